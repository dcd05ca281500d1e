"""Event time per correlation type and extension: out-of-order events within the allowed
lateness count as if in order; events later than that are dropped and counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import Engine
from pipeline.detect.model import RuleSet
from tests.unit.detect.helpers import EXAMPLES, HEADER, event, ruleset
from tests.unit.detect.test_engine import correlation, keys

BODIES = {
    "event_count": "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.ip]\n"
    "  timespan: 10m\n  condition: {gte: 5}",
    "value_count": "  type: value_count\n  rules: [t.fail]\n  group-by: [actor.ip]\n"
    "  timespan: 10m\n  condition: {gte: 5, field: actor.id}",
    "temporal": "  type: temporal\n  rules: [t.fail, t.ok]\n  group-by: [actor.ip]\n"
    "  timespan: 10m",
    "temporal_ordered": "  type: temporal_ordered\n  rules: [t.fail, t.ok]\n"
    "  group-by: [actor.ip]\n  timespan: 10m",
}


def sequence(kind: str, start: float) -> list[dict[str, Any]]:
    """Events that fire ``kind`` when processed in event-time order."""
    if kind in ("event_count", "value_count"):
        return [
            event(start + i * 10, outcome="FAILURE", actor={"id": f"usr_{i:06d}", "ip": "10.0.0.1"})
            for i in range(5)
        ]
    return [
        event(start, outcome="FAILURE", actor={"ip": "10.0.0.1"}),
        event(start + 60, actor={"ip": "10.0.0.1"}),
    ]


@pytest.mark.parametrize("kind", list(BODIES))
def test_out_of_order_within_lateness_fires(tmp_path: Path, kind: str) -> None:
    rules = correlation(tmp_path, BODIES[kind])
    in_order = sequence(kind, 3600)
    assert len(keys(Engine(rules).run(in_order))) == 1
    engine = Engine(rules, EngineConfig(allowed_lateness_s=300))
    alerts = engine.run(list(reversed(in_order)))  # newest first: all but one arrive late
    assert engine.late == 0
    assert len(keys(alerts)) == 1, kind


@pytest.mark.parametrize("kind", list(BODIES))
def test_events_later_than_the_lateness_are_dropped(tmp_path: Path, kind: str) -> None:
    rules = correlation(tmp_path, BODIES[kind])
    engine = Engine(rules, EngineConfig(allowed_lateness_s=300))
    engine.process(event(7200, action="read"))  # the watermark moves to 11:00
    alerts = engine.run(sequence(kind, 3600))  # an hour late: windows closed
    assert alerts == []
    assert engine.late == len(sequence(kind, 0))


def test_temporal_ordered_is_about_event_time_not_arrival(tmp_path: Path) -> None:
    rules = correlation(tmp_path, BODIES["temporal_ordered"])
    # success at 0, failure at 60 in event time, arriving failure first: wrong order, no alert
    wrong = [
        event(60, outcome="FAILURE", actor={"ip": "10.0.0.1"}),
        event(0, actor={"ip": "10.0.0.1"}),
    ]
    assert Engine(rules).run(wrong) == []


SPIKE = """  s: {action: key.decrypt}
  condition: s
"""
SPIKE_BLOCK = """  spike:
    group-by: [actor.id]
    timespan: 1h
    baseline: 2
    measures: [{of: count, factor: 3, floor: 5}]
"""


def extension(tmp_path: Path, detection: str, block: str) -> RuleSet:
    """An alerting rule t.rule with an ``auditpipe`` block (spike or new-value)."""
    examples = EXAMPLES.replace("auditpipe:\n", "auditpipe:\n" + block, 1)
    return ruleset(tmp_path, f"title: t\nname: t.rule\n{HEADER}detection:\n{detection}{examples}")


def test_spike_counts_out_of_order_events_of_the_open_window(tmp_path: Path) -> None:
    rules = extension(tmp_path, SPIKE, SPIKE_BLOCK)
    burst = [event(3600 + i, action="key.decrypt") for i in range(5)]
    engine = Engine(rules, EngineConfig(allowed_lateness_s=300))
    assert len(keys(engine.run(list(reversed(burst))))) == 1
    # an event of an earlier window of the group, within the lateness, is not counted there
    late = Engine(rules, EngineConfig(allowed_lateness_s=7200))
    assert late.run([event(7200 + i, action="key.decrypt") for i in range(4)]) == []  # < floor
    assert late.run([event(3600, action="key.decrypt")]) == []


NEW_VALUE = """  s: {action: login, outcome: SUCCESS}
  condition: s
"""
NEW_VALUE_BLOCK = """  new-value:
    {field: actor.country, group-by: [actor.id], history: 1d, window: 1h}
"""


def test_new_value_with_out_of_order_history(tmp_path: Path) -> None:
    rules = extension(tmp_path, NEW_VALUE, NEW_VALUE_BLOCK)
    de, br = event(0, actor={"country": "DE"}), event(60, actor={"country": "BR"})
    assert len(keys(Engine(rules).run([de, br]))) == 1
    # BR arrives first: the actor's first value then, not an alert yet; the late DE precedes it
    # in event time, so BR is judged again and is new after all: the same alert, as of BR
    (alert,) = Engine(rules).run([br, de])
    assert alert == Engine(rules).run([de, br])[0]
    assert alert["details"]["new_value"] == "BR"
    # history that arrives later than the allowed lateness re-checks nothing
    engine = Engine(rules, EngineConfig(allowed_lateness_s=30))
    engine.process(br)
    engine.process(event(120, actor={"country": "BR"}))  # the watermark moves past BR + 30 s
    assert engine.process(event(100, actor={"country": "DE"})) == []
    # a late event beyond the lateness does not count as history
    engine = Engine(rules, EngineConfig(allowed_lateness_s=60))
    engine.process(event(7200, actor={"country": "DE"}))
    engine.process(event(0, actor={"country": "FR"}))
    assert engine.late == 1
    assert len(keys(engine.run([event(7300, actor={"country": "FR"})]))) == 1


def test_duplicates_by_event_id_are_counted_not_evaluated(tmp_path: Path) -> None:
    """Twelve copies of one failed login count once; the copies are counted as duplicates."""
    rules = extension(tmp_path, NEW_VALUE, NEW_VALUE_BLOCK)
    de = event(0, actor={"country": "DE"})
    br = event(60, actor={"country": "BR"})
    engine = Engine(rules)
    alerts = engine.run([de, *[dict(br) for _ in range(12)]])
    assert (len(alerts), engine.processed, engine.duplicates) == (1, 2, 11)


def test_dedup_memory_is_bounded_by_lateness_and_size(tmp_path: Path) -> None:
    rules = extension(tmp_path, NEW_VALUE, NEW_VALUE_BLOCK)
    engine = Engine(rules, EngineConfig(allowed_lateness_s=10, dedup_max=5))
    for i in range(20):
        engine.process(event(i, actor={"country": "DE"}))
    assert len(engine._seen_ids) <= 5
    engine.process(event(1000, actor={"country": "DE"}))  # everything before 990 s is late now
    assert len(engine._seen_ids) == 1


def test_progress_round_trips_the_watermark(tmp_path: Path) -> None:
    rules = extension(tmp_path, NEW_VALUE, NEW_VALUE_BLOCK)
    engine = Engine(rules)
    engine.run([event(0), event(50), event(50)])
    again = Engine(rules)
    again.resume(engine.progress())
    assert again.progress() == engine.progress()
    assert again.watermark == engine.watermark > 0
