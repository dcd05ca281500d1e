"""The streaming stage's pure parts: the per-partition state view, idle clocks and the expiry
sweep, and the check for rules whose groups span partitions (faust itself is tested in
tests/integration/test_detector_*.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.detect import partitioning
from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.detect.stage import Clocks, PartitionView, sweep
from pipeline.detect.state import GroupState
from pipeline.errors import StateRecordError
from tests.unit.detect.helpers import event, match_rule
from tests.unit.detect.test_engine import correlation

RULES = Path(__file__).resolve().parents[3] / "rules" / "detection"


class FakeTable:
    """What PartitionView uses of a faust table: its store and ``send_changelog``."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.changelog: list[tuple[int, str, Any]] = []

    def send_changelog(
        self, partition: int, key: str, value: Any, value_serializer: str | None = None
    ) -> None:
        self.changelog.append((partition, key, value))


def _state(n: int) -> GroupState:
    return GroupState(group={"actor.id": f"u{n}"}, last=n)


def test_partition_view_isolates_partitions_and_writes_their_changelog_partition() -> None:
    table = FakeTable()
    p0, p2 = PartitionView(table, 0), PartitionView(table, 2)
    p0["a"] = _state(1)
    p2["a"] = _state(2)
    p2["b"] = _state(3)
    assert (p0["a"], p2["a"], len(p0), len(p2)) == (_state(1), _state(2), 1, 2)
    assert sorted(p2) == ["a", "b"]
    del p2["a"]
    assert p2.get("a") is None
    assert "a" in p0
    changelog = [(p, k, None if v is None else orjson.loads(v)) for p, k, v in table.changelog]
    assert changelog == [  # the encoded records, as JSON bytes
        (0, "p0|a", {"group": {"actor.id": "u1"}, "last": 1}),
        (2, "p2|a", {"group": {"actor.id": "u2"}, "last": 2}),
        (2, "p2|b", {"group": {"actor.id": "u3"}, "last": 3}),
        (2, "p2|a", None),  # the tombstone goes to the view's own partition too
    ]


def test_partition_view_decodes_a_record_recovered_from_the_changelog() -> None:
    table = FakeTable()
    view = PartitionView(table, 1)
    state = _state(1)
    view["k"] = state
    assert view["k"] is state  # kept as the object, updated in place by the engine
    table.data["p1|k"] = {"group": {"actor.id": "u1"}, "last": 5}  # as faust recovers it
    recovered = view["k"]
    assert recovered == GroupState(group={"actor.id": "u1"}, last=5)
    assert table.data["p1|k"] is recovered  # decoded once
    table.data["p1|bad"] = {"group": {"actor.id": "u1"}}
    with pytest.raises(StateRecordError, match="GroupState: missing field 'last'"):
        view.get("bad")


def test_advance_closes_windows_and_expires_state_without_events(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 10m\n"
        "  condition: {gte: 2}",
    )
    engine = Engine(rules, EngineConfig(allowed_lateness_s=60, update_interval_s=3600))
    fails = [event(i, outcome="FAILURE") for i in range(3)]
    alerts = [a for doc in fails for a in engine.process(doc)]
    assert [a["count"] for a in alerts] == [2]  # 3 is not yet due under the update policy
    assert engine.advance(engine.watermark) == []  # nothing closed yet
    final = engine.advance(engine.watermark + 3600 * 1_000_000)
    assert [a["count"] for a in final] == [3]
    assert final[0]["dedup_key"] == alerts[0]["dedup_key"]
    assert len(engine.store) == 0  # past its retention: gone


def test_sweep_advances_idle_partitions_and_drops_revoked_ones(tmp_path: Path) -> None:
    rules = correlation(
        tmp_path,
        "  type: event_count\n  rules: [t.fail]\n  group-by: [actor.id]\n  timespan: 10m\n"
        "  condition: {gte: 2}",
    )
    cfg = EngineConfig(allowed_lateness_s=60, update_interval_s=3600)
    engines = {("", 0): Engine(rules, cfg), ("", 1): Engine(rules, cfg)}
    clocks = Clocks(idle_after_s=60)
    for p, engine in engines.items():
        for i in range(3):
            engine.process(event(i, outcome="FAILURE"))
        clocks.saw(p, engine, now=1000.0)
    sent: list[dict[str, Any]] = []

    async def send(alerts: list[dict[str, Any]]) -> None:
        sent.extend(alerts)

    # 30 s later nothing is idle yet; partition 1 was revoked
    assert asyncio.run(sweep(engines, {("", 0)}, clocks, send, now=1030.0)) == 0
    assert list(engines) == [("", 0)]
    # two hours of wall time without events: partition 0's windows close, final update out
    assert asyncio.run(sweep(engines, {("", 0)}, clocks, send, now=1000.0 + 7200)) == 1
    assert [a["count"] for a in sent] == [3]
    assert len(engines[("", 0)].store) == 0


def test_split_keeps_actor_grouped_rules_local_and_sets_the_others_apart(
    tmp_path: Path,
) -> None:
    shipped = load_rules(RULES)
    local, remote = partitioning.split(shipped, "actor.id")
    assert remote == {}  # every shipped rule groups by actor.id
    assert local.all_rules() == shipped.all_rules()
    by_ip = correlation(
        tmp_path,
        "  type: value_count\n  rules: [t.fail]\n  group-by: [actor.ip]\n  timespan: 5m\n"
        "  condition: {gte: 3, field: actor.id}",
    )
    local, remote = partitioning.split(by_ip, "actor.id")
    assert local.all_rules() == []
    assert list(remote) == [("actor.ip",)]
    assert [r.name for r in remote[("actor.ip",)].all_rules()] == ["t.fail", "t.corr"]
    ungrouped = match_rule(tmp_path, "  s: {action: mfa.disable}\n  condition: s")
    assert list(partitioning.split(ungrouped, "actor.id")[1]) == [()]
    assert partitioning.slug(()) == "all"
    assert partitioning.slug(("actor.ip", "target.id")) == "actor.ip+target.id"
