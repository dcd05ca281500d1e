"""Privacy accuracy on the generated, labelled corpus of ``tests/unit/scrub/privacy``: recall
per type, precision per detector kind, look-alikes kept. Run with ``-s`` to see the tables;
``make bench`` prints the same table (benchmarks/privacy.py).

Targets (issue 15): secrets recall 100 % on every scan engine; national identifiers >= 99 %;
context-marked identifiers (names, birth dates, passports, addresses, national phones) >= 95 %;
look-alikes kept >= 98 %.
"""

from __future__ import annotations

import pytest

from tests.unit.scrub.helpers import scrubber
from tests.unit.scrub.privacy.contextual import CONTEXTUAL
from tests.unit.scrub.privacy.labelled import items, measure, table
from tests.unit.scrub.privacy.national import NATIONAL
from tests.unit.scrub.privacy.phones import PHONES
from tests.unit.scrub.privacy.secrets import SECRETS

PER_KIND = 150


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_secrets_recall_is_total_on_every_engine(engine: str) -> None:
    counts = measure(scrubber(engine), items(SECRETS, seed=11, per_kind=PER_KIND))
    print(f"\nscan engine: {engine}\n{table(counts)}")
    assert min(counts.seen.values()) >= PER_KIND
    leaked = {k: n for k, n in counts.missed.items() if n}
    assert not leaked, f"secrets leaked: {leaked}; first: {counts.misses[:3]}"
    assert counts.kept() >= 0.98


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_national_identifiers_recall_and_look_alikes_kept(engine: str) -> None:
    counts = measure(scrubber(engine), items(NATIONAL, seed=12, per_kind=PER_KIND))
    print(f"\nscan engine: {engine}\n{table(counts)}")
    assert len(counts.seen) == 12
    assert counts.group_recall("national_id") >= 0.99, counts.misses[:3]
    assert counts.kept() >= 0.98, counts.false_examples[:3]


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_national_phones_recall_and_look_alikes_kept(engine: str) -> None:
    counts = measure(scrubber(engine), items(PHONES, seed=13, per_kind=PER_KIND))
    print(f"\nscan engine: {engine}\n{table(counts)}")
    assert counts.group_recall("context") >= 0.95, counts.misses[:3]
    assert counts.kept() >= 0.98, counts.false_examples[:3]


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_context_marked_identifiers_recall_and_look_alikes_kept(engine: str) -> None:
    counts = measure(scrubber(engine), items(CONTEXTUAL, seed=14, per_kind=PER_KIND))
    print(f"\nscan engine: {engine}\n{table(counts)}")
    assert counts.group_recall("context") >= 0.95, counts.misses[:3]
    assert counts.kept() >= 0.98, counts.false_examples[:3]
