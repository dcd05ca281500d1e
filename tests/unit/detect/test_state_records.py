"""The detector's changelog records: the typed state decodes records in the exact format the
detector wrote before it was typed (tests/golden/state/, captured from that code), encodes them
back unchanged, resumes where that code left off, and refuses a malformed record with a
StateRecordError naming the field."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.detect.model import RuleSet
from pipeline.detect.state import (
    GroupState,
    Incident,
    SequenceWindow,
    SlidingCount,
    SpikeWindow,
    TemporalWindow,
    ValueHistory,
)
from pipeline.errors import DeserializationError, StateRecordError
from tests.harness import detector_scenario as scenario

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "state"
RULES = Path(__file__).resolve().parents[3] / "rules" / "detection"
#: rule files shipped after detector_resume.json was captured: the scenario is built from the
#: rules as they were then, so the old code's snapshot and alerts still describe it
ADDED_SINCE_CAPTURE = {"admin.break_glass.yml"}


def _captured_rules(tmp: Path) -> RuleSet:
    for f in RULES.iterdir():
        if f.is_file() and f.name not in ADDED_SINCE_CAPTURE:
            shutil.copy(f, tmp / f.name)
    return load_rules(tmp)


RECORDS: dict[str, dict[str, Any]] = orjson.loads((GOLDEN / "detector.json").read_bytes())
WINDOWS = {
    "slots": SlidingCount,
    "seen": TemporalWindow,
    "seq": SequenceWindow,
    "ws": SpikeWindow,
    "values": ValueHistory,
}


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_todays_records_decode_and_encode_back_unchanged(name: str) -> None:
    value = RECORDS[name]["value"]
    state = GroupState.decode(value)
    assert orjson.loads(orjson.dumps(state.encode())) == value  # through the changelog's bytes
    assert GroupState.decode(state.encode()) == state  # and before serialization
    kinds = [kind for key, kind in WINDOWS.items() if key in value]
    assert [type(state.window)] == kinds if kinds else state.window is None
    assert (state.inc is not None) == ("inc" in value)


def test_golden_file_covers_every_window_and_incidents() -> None:
    keys = {k for r in RECORDS.values() for k in r["value"]}
    assert keys >= {"group", "last", "inc", "samples", *WINDOWS, "n", "cur", "hist", "first"}


def _scenario_events(rules: RuleSet) -> list[dict[str, Any]]:
    """The events the resume file was captured with (its ids made a function of the index)."""
    events = scenario.build(rules, background_events=300, tag="resume", seed=5).events
    for i, e in enumerate(events):
        e["event_id"] = str(uuid.UUID(int=i, version=4))
        e["request_id"] = str(uuid.UUID(int=i + 1 << 64, version=4))
        e["trace_id"] = f"{i:032x}"
    return events


def test_the_engine_resumes_from_a_snapshot_of_todays_records(tmp_path: Path) -> None:
    """detector_resume.json: the previous code's engine snapshot half way through a scenario
    (every shipped rule), and the alerts it then raised; the typed engine raises the same."""
    golden = orjson.loads((GOLDEN / "detector_resume.json").read_bytes())
    rules = _captured_rules(tmp_path)
    events = _scenario_events(rules)
    digest = hashlib.sha256(orjson.dumps(events, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert digest == golden["events_sha256"], "the scenario changed: recapture the golden file"
    engine = Engine.restore(rules, golden["snapshot"])
    assert orjson.loads(orjson.dumps(engine.snapshot())) == golden["snapshot"]  # unchanged
    rest = [a for e in events[golden["half"] :] for a in engine.process(e)] + engine.flush()
    # (the order of the final updates follows the store's, and the file's keys are sorted)
    got = sorted([a["dedup_key"], a["alert_id"], a["count"]] for a in rest)
    assert got == sorted(golden["alerts"])


def _record(name: str) -> dict[str, Any]:
    return dict(RECORDS[name]["value"])


SPIKE = "shipped:crypto.decrypt_spike:cur,first,group,hist,inc,last,samples,ws,inc+svc"
SEQ = "temporal_ordered:t.corr:group,last,n,samples,seq"
COUNT = "value_count:t.corr:group,last,samples,slots"
MALFORMED: list[tuple[str, object, str]] = [
    ("not an object", "state", "GroupState: expected a JSON object, got str"),
    ("missing last", {"group": {}}, "GroupState: missing field 'last'"),
    ("group value", {"group": {"actor.id": 3}, "last": 0}, r"GroupState\.group\.actor\.id"),
    ("incident field", {**_record(SPIKE), "inc": {"start": 1}}, "Incident: missing field"),
    ("sample length", {**_record(SEQ), "samples": [["a", "b"]]}, r"GroupState\.samples\[0\]"),
    ("seq match", {**_record(SEQ), "seq": [[[1, 2]], []]}, r"GroupState\.seq\[0\]\[0\]"),
    ("slot", {**_record(COUNT), "slots": [[1, "x"]]}, r"GroupState\.slots\[0\]"),
    ("spike totals", {**_record(SPIKE), "cur": ["1.0"]}, r"GroupState\.cur\[0\]"),
    ("two windows", {**_record(COUNT), "values": {}}, "more than one window"),
    ("bool", {"group": {}, "last": False}, r"GroupState\.last: expected an integer, got bool"),
]


@pytest.mark.parametrize(
    ("doc", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_record_is_a_clear_error(doc: object, message: str) -> None:
    with pytest.raises(StateRecordError, match=message) as info:
        GroupState.decode(doc)
    assert isinstance(info.value, DeserializationError)


def test_a_window_of_another_kind_is_a_clear_error() -> None:
    state = GroupState.decode(_record(COUNT))
    with pytest.raises(StateRecordError, match="expected SpikeWindow, got SlidingCount"):
        state.window_of(SpikeWindow)


def test_incident_round_trip() -> None:
    inc = Incident.decode(_record(SPIKE)["inc"])
    assert orjson.loads(orjson.dumps(inc.encode())) == _record(SPIKE)["inc"]
    assert Incident.decode(inc.encode()) == inc
