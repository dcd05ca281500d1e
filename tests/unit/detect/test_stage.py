"""The streaming stage's pure parts: the slot store and progress record, idle clocks and the
expiry sweep, and the split of rules whose groups span partitions (the loop on the broker is
tested in tests/integration/test_detector_*.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipeline.detect import partitioning
from pipeline.detect.changelog import Progress, SlotStore
from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.detect.loop import Clocks, sweep
from pipeline.detect.state import GroupState
from pipeline.errors import StateRecordError
from tests.unit.detect.helpers import event, match_rule
from tests.unit.detect.test_engine import correlation

RULES = Path(__file__).resolve().parents[3] / "rules" / "detection"


def _state(n: int) -> GroupState:
    return GroupState(group={"actor.id": f"u{n}"}, last=n)


def test_slot_store_coalesces_the_writes_of_a_key_until_the_checkpoint() -> None:
    store = SlotStore()
    store["a"] = _state(1)
    store["a"] = _state(2)
    store["b"] = _state(3)
    del store["b"]
    changes = {k: None if v is None else orjson.loads(v) for k, v in store.changes()}
    assert changes == {"a": {"group": {"actor.id": "u2"}, "last": 2}, "b": None}
    assert store.changes() == []  # written: nothing left
    assert store["a"] == _state(2)


def test_progress_record_round_trips_and_is_strict() -> None:
    progress = Progress({"watermark": 5, "late": 0, "processed": 3}, offset=42)
    assert Progress.decode(progress.encode()) == progress
    with pytest.raises(StateRecordError, match="offset"):
        Progress.decode(orjson.dumps({"engine": {}}))


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


def test_sweep_advances_idle_partitions(tmp_path: Path) -> None:
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
    # 30 s later nothing is idle yet
    assert sweep(engines, clocks, now=1030.0) == []
    # two hours of wall time without events: the windows close, final updates out
    sent = sweep(engines, clocks, now=1000.0 + 7200)
    assert [a["count"] for a in sent] == [3, 3]
    assert all(len(e.store) == 0 for e in engines.values())


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
