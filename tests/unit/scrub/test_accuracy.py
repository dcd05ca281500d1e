"""Accuracy of detection on a generated, labelled corpus (see corpus.py).

Recall per kind (the value no longer appears anywhere in the scrubbed event), no secret or
card leaked at all (not even a 16-character piece of one), and benign look-alikes kept.
Run with ``-s`` to see the table. Every scan engine runs the same corpus, which also checks
that each trigger really is a superset of its precise pattern.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from tests.unit.scrub.corpus import SECRET_KINDS, SENSITIVE, corpus
from tests.unit.scrub.corpus_formats import FORMATS
from tests.unit.scrub.helpers import event, scrubber, strings

PER_KIND = 250
BENIGN = 3000
KINDS = {**SENSITIVE, **FORMATS}


def _place(rng: random.Random, text: str) -> dict[str, Any]:
    """Put the text where free text occurs: details values mostly, details keys (a map key is
    free text too), and other scanned fields."""
    where = rng.random()
    if where < 0.1:
        return event(details={text: rng.choice(["1", "true", "seen"]), "note": "ok"})
    if where < 0.7:
        return event(details={rng.choice(["note", "request", "error", "body"]): text})
    if where < 0.8:
        return event(actor={"id": "u-1", "type": "user", "user_agent": text})
    if where < 0.9:
        return event(http={"method": "GET", "path": f"/v1/search?q={text}"})
    return event(target={"type": "document", "id": text})


def _leaked(kind: str, value: str, outputs: list[str]) -> bool:
    if any(value in out for out in outputs):
        return True
    if kind in SECRET_KINDS and len(value) > 16:
        pieces = {value[i : i + 16] for i in range(0, len(value) - 15, 4)}
        return any(piece in out for out in outputs for piece in pieces)
    return False


def measure(engine: str) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    rng = random.Random(99)
    s = scrubber(engine)
    seen: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    benign_seen: Counter[str] = Counter()
    benign_lost: Counter[str] = Counter()
    for text, samples, looks in corpus(seed=7, per_kind=PER_KIND, benign_count=BENIGN, kinds=KINDS):
        out = s.scrub(_place(rng, text))
        outputs = list(strings(out))
        for sample in samples:
            seen[sample.kind] += 1
            if _leaked(sample.kind, sample.value, outputs):
                missed[sample.kind] += 1
        for kind, value in looks:
            benign_seen[kind] += 1
            if not any(value in o for o in outputs):
                benign_lost[kind] += 1
    return seen, missed, benign_seen, benign_lost


def _table(engine: str, *counts: Counter[str]) -> str:
    seen, missed, benign_seen, benign_lost = counts
    rows = [f"\nscan engine: {engine}", f"{'sensitive kind':18} {'n':>6} {'recall':>8}"]
    for kind in sorted(seen):
        rows.append(f"{kind:18} {seen[kind]:>6} {1 - missed[kind] / seen[kind]:>8.2%}")
    total, miss = sum(seen.values()), sum(missed.values())
    rows.append(f"{'ALL':18} {total:>6} {1 - miss / total:>8.2%}")
    rows.append(f"{'benign kind':18} {'n':>6} {'kept':>8}")
    for kind in sorted(benign_seen):
        rows.append(
            f"{kind:18} {benign_seen[kind]:>6} {1 - benign_lost[kind] / benign_seen[kind]:>8.2%}"
        )
    btotal, blost = sum(benign_seen.values()), sum(benign_lost.values())
    rows.append(f"{'ALL benign':18} {btotal:>6} {1 - blost / btotal:>8.2%}")
    return "\n".join(rows)


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_recall_and_benign_kept(engine: str) -> None:
    seen, missed, benign_seen, benign_lost = measure(engine)
    print(_table(engine, seen, missed, benign_seen, benign_lost))
    assert set(seen) == set(KINDS), "every kind is in the corpus"
    assert min(seen.values()) >= PER_KIND
    total = sum(seen.values())
    assert 1 - sum(missed.values()) / total >= 0.995
    leaked_secrets = {k: n for k, n in missed.items() if k in SECRET_KINDS and n}
    assert not leaked_secrets, f"secrets or cards leaked: {leaked_secrets}"
    assert 1 - sum(benign_lost.values()) / sum(benign_seen.values()) >= 0.99


def test_the_leak_check_sees_whole_and_partial_leaks() -> None:
    token = "ghp_" + "a1B2" * 9
    assert _leaked("github_token", token, [f"x {token} y"])
    assert _leaked("github_token", token, [f"x {token[:20]}[cut]"])  # a 16-char piece
    assert not _leaked("github_token", token, ["x [github_token] y"])
    assert _leaked("email", "a@b.example", ["to a@b.example"])
    assert not _leaked("card", "4111 1111 1111 1111", ["[card:…1111]"])
