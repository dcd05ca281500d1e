"""Correlations, event time and lateness, storms, state round trips, alert form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import Engine
from pipeline.detect.model import RuleSet
from pipeline.events.jsonform import from_json
from pipeline.events.schemas import parsed_schema
from tests.unit.detect.helpers import EXAMPLES, HEADER, event, ruleset

FAIL = f"""title: fail
name: t.fail
{HEADER}detection:
  s: {{action: login, outcome: FAILURE}}
  condition: s
---
"""
OK = f"""title: ok
name: t.ok
{HEADER}detection:
  s: {{action: login, outcome: SUCCESS}}
  condition: s
---
"""


def correlation(tmp_path: Path, body: str) -> RuleSet:
    """t.corr over t.fail (and t.ok when the body names it); base rules do not alert."""
    base = FAIL + (OK if "t.ok" in body else "")
    text = f"{base}title: corr\nname: t.corr\nlevel: high\ncorrelation:\n{body}\n{EXAMPLES}"
    return ruleset(tmp_path, text)


def keys(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["dedup_key"] for a in alerts}


def fails(
    start: float, n: int, step: float = 1.0, actor: str = "usr_000001"
) -> list[dict[str, Any]]:
    return [event(start + i * step, outcome="FAILURE", actor={"id": actor}) for i in range(n)]


def test_event_count_per_group_and_sliding(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 10m\n"
        "  condition: {gte: 5}",
    )
    # 4 failures for each of two actors: no alert; 3 + 3 across a 10-minute boundary: one alert
    quiet = fails(0, 4) + fails(0, 4, actor="usr_000002")
    assert Engine(rules).run(quiet) == []
    straddling = fails(590, 3) + fails(601, 3)
    alerts = Engine(rules).run(straddling)
    assert len(keys(alerts)) == 1
    assert alerts[0]["group"] == {"actor.id": "usr_000001"}
    assert alerts[0]["count"] == 5
    assert alerts[0]["severity"] == "HIGH"


def test_value_count(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: value_count\n  rules: [t.fail]\n  group-by: [actor.ip]\n  timespan: 5m\n"
        "  condition: {gte: 3, field: actor.id}",
    )
    same = [event(i, outcome="FAILURE", actor={"ip": "10.0.0.1"}) for i in range(10)]
    assert Engine(rules).run(same) == []
    spray = [
        event(i, outcome="FAILURE", actor={"id": f"usr_{i:06d}", "ip": "10.0.0.1"})
        for i in range(3)
    ]
    alerts = Engine(rules).run(spray)
    assert [a["count"] for a in alerts] == [3]
    assert alerts[0]["group"] == {"actor.ip": "10.0.0.1"}


def test_temporal_unordered(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: temporal\n  rules: [t.fail, t.ok]\n  group-by: [actor.id]\n  timespan: 1m",
    )
    assert len(keys(Engine(rules).run([event(0), event(30, outcome="FAILURE")]))) == 1
    assert Engine(rules).run([event(0), event(90, outcome="FAILURE")]) == []


def test_temporal_ordered(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: temporal_ordered\n  rules: [t.fail, t.ok]\n  group-by: [actor.id]\n  timespan: 1m",
    )
    assert len(keys(Engine(rules).run([event(0, outcome="FAILURE"), event(30)]))) == 1
    assert Engine(rules).run([event(0), event(30, outcome="FAILURE")]) == []
    other_actor = [event(0, outcome="FAILURE"), event(30, actor={"id": "usr_000002"})]
    assert Engine(rules).run(other_actor) == []


def test_late_events_are_counted_and_ignored(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 10m\n"
        "  condition: {gte: 3}",
    )
    engine = Engine(rules, EngineConfig(allowed_lateness_s=60))
    engine.process(event(3600))  # the watermark moves to 10:00
    for doc in fails(3550, 2):  # within the lateness: counted in their window
        assert engine.process(doc) == []
    assert engine.late == 0
    for doc in fails(0, 5):  # an hour late: their windows are closed
        assert engine.process(doc) == []
    assert engine.late == 5
    assert len(keys(engine.process(fails(3560, 1)[0]))) == 1


def test_storm_is_one_alert_then_bounded_updates(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 1h\n"
        "  condition: {gte: 10}",
    )
    engine = Engine(rules, EngineConfig(update_interval_s=600))
    storm = fails(0, 5000, step=0.5)  # 5000 failures in 42 minutes
    alerts = engine.run(storm)
    assert len(keys(alerts)) == 1
    # first alert at 10, doublings (20 .. 2560), at most one per 10 minutes otherwise, final
    assert len(alerts) <= 1 + 9 + 5 + 1
    counts = [a["count"] for a in alerts]
    assert counts == sorted(counts)
    assert counts[0] == 10
    assert counts[-1] == 5000
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    assert all(len(a["sample_event_ids"]) <= 10 for a in alerts)


def test_alerts_are_valid_alert_records(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 10m\n"
        "  condition: {gte: 3}",
    )
    alerts = Engine(rules).run(fails(0, 4))
    schema = parsed_schema("alert")
    for alert in alerts:
        from_json(schema, alert)
    first = alerts[0]
    assert first["request_ids"]
    assert first["trace_ids"]
    assert len(first["sample_event_ids"]) == 3
    assert first["window_start"] == "2026-11-01T09:00:00.000000Z"
    assert first["window_end"] == "2026-11-01T09:10:00.000000Z"
    assert first["first_event_ts"] == "2026-11-01T09:00:00.000000Z"
    assert first["last_event_ts"] == "2026-11-01T09:00:02.000000Z"
    # deterministic: the same input gives the same keys and ids
    again = Engine(rules).run(fails(0, 4))
    assert again[0]["dedup_key"] == first["dedup_key"]
    assert again[0]["alert_id"] == first["alert_id"]


def test_state_round_trips_through_json(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 10m\n"
        "  condition: {gte: 6}",
    )
    events = fails(0, 8)
    straight = Engine(rules).run(events)
    first = Engine(rules)
    out = [a for doc in events[:3] for a in first.process(doc)]
    snapshot = orjson.loads(orjson.dumps(first.snapshot()))
    assert snapshot == orjson.loads(orjson.dumps(Engine.restore(rules, snapshot).snapshot()))
    second = Engine.restore(rules, snapshot)
    out += second.run(events[3:])
    assert out == straight


def test_old_state_expires(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 10m\n"
        "  condition: {gte: 100}",
    )
    engine = Engine(rules, EngineConfig(allowed_lateness_s=0))
    engine.run(fails(0, 3) + fails(0, 3, actor="usr_000002"))
    assert len(engine.store) == 2
    engine.process(event(7200, outcome="FAILURE", actor={"id": "usr_000003"}))
    engine.expire()
    assert [s.group for s in engine.store.values()] == [{"actor.id": "usr_000003"}]
