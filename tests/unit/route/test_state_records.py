"""The router's state records: the typed state decodes records in the exact format the router
wrote before it was typed (tests/golden/state/router.json, captured from that code), encodes
them back unchanged, and refuses a malformed record with a StateRecordError naming the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.errors import DeserializationError, StateRecordError
from pipeline.route.engine import HeldAlert, Router, RouterState
from pipeline.route.grouping import Group, Notification
from pipeline.route.retry import BreakerRecord, CircuitBreaker, decode_breakers, encode_breakers
from pipeline.route.state import Ticket

from .helpers import at, routing

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "state" / "router.json"
RECORDS: dict[str, dict[str, Any]] = orjson.loads(GOLDEN.read_bytes())


def _round_trip(kind: str, value: object) -> object:
    if kind == "a":
        return HeldAlert.decode(value).encode()
    if kind == "g":
        return Group.decode(value).encode()
    if kind == "o":
        return Notification.decode(value).encode()
    if kind == "t":
        return Ticket.decode(value).encode()
    if kind == "breakers":
        return encode_breakers(decode_breakers(value))
    assert kind == "state_to_json"
    return RouterState.decode(value).encode()


@pytest.mark.parametrize("name", sorted(n for n, r in RECORDS.items() if r["value"] is not None))
def test_todays_records_decode_and_encode_back_unchanged(name: str) -> None:
    value = RECORDS[name]["value"]
    encoded = _round_trip(name.split(":")[0], value)
    assert encoded == value
    assert orjson.loads(orjson.dumps(encoded)) == value  # and through the bytes of the topic


def test_golden_file_covers_every_state_type() -> None:
    kinds = {n.split(":")[0] for n in RECORDS}
    assert kinds >= {"a", "g", "o", "t", "breakers", "state_to_json"}
    shapes = set(RECORDS)
    assert {"g:new", "g:muted:sent", "g:flushed:sent"} <= shapes  # before/after a first flush


def test_a_router_resumes_from_todays_state(tmp_path: Path) -> None:
    state = RouterState.decode(RECORDS["state_to_json"]["value"])
    assert state.alerts
    assert state.groups
    router = Router(routing(tmp_path, _CONFIG), state=state)
    # saved at 10:00:31: the root group had sent k1 (k2 muted); the tickets group, created at
    # 10:00:02, was still in its group_wait: it flushes now, and k1 is not sent again
    [note] = router.due(at(60))
    assert (note.receiver, note.new_keys, note.reason) == ("desk", ["k3"], "new")
    assert router.due(at(300)) == []
    router.due(at(4000))  # the alerts expire and their groups end
    assert (router.alert_count, router.group_count) == (0, 0)


def test_breakers_resume_where_they_were() -> None:
    saved = decode_breakers(RECORDS["breakers"]["value"])
    desk = CircuitBreaker(2, 30.0, state=saved["desk"])
    assert desk.state(110.0) == "open"  # opened at 101.5
    assert desk.state(131.5) == "half_open"
    hook = CircuitBreaker(1, 1.0, state=saved["hook"])
    assert not hook.allow(21.0)  # its one trial is taken


_CONFIG = """
resolve_timeout: 5m
route:
  receiver: feed
  group_by: [rule_id]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - {name: tickets, receiver: desk, matchers: ['severity="CRITICAL"'],
       group_by: [rule_id, group.actor.id]}
receivers:
  - {name: feed, type: kafka}
  - {name: desk, type: ticket, url: "https://t.test/x"}
"""


def _group() -> dict[str, object]:
    return dict(RECORDS["g:muted:sent"]["value"])


def _note() -> dict[str, object]:
    return dict(RECORDS["o:firing"]["value"])


def _without(doc: dict[str, object], name: str) -> dict[str, object]:
    return {k: v for k, v in doc.items() if k != name}


Decoder = Callable[[object], object]
MALFORMED: list[tuple[str, Decoder, object, str]] = [
    ("not an object", Group.decode, [1, 2], "Group: expected a JSON object, got list"),
    ("missing field", Group.decode, _without(_group(), "next_flush"), "'next_flush'"),
    ("wrong type", Group.decode, {**_group(), "created": "soon"}, "Group.created"),
    ("bool is no int", Group.decode, {**_group(), "last_sent": True}, "Group.last_sent"),
    ("bad list item", Group.decode, {**_group(), "keys": ["k1", 2]}, "Group.keys[1]"),
    ("bad map value", Group.decode, {**_group(), "sent": {"k1": "x"}}, "Group.sent.k1"),
    ("alert missing", HeldAlert.decode, {"until": 1}, "HeldAlert: missing field 'alert'"),
    ("alert not a dict", HeldAlert.decode, {"alert": [], "until": 1}, "HeldAlert.alert"),
    ("note status", Notification.decode, {**_note(), "status": "odd"}, "Notification.status"),
    ("note field", Notification.decode, _without(_note(), "receiver"), "'receiver'"),
    ("note alerts", Notification.decode, {**_note(), "alerts": [1]}, "Notification.alerts[0]"),
    ("ticket", Ticket.decode, "1793527240000000", "Ticket: expected an integer, got str"),
    ("breaker state", BreakerRecord.decode, {"state": "ajar"}, "BreakerRecord.state"),
    (
        "open breaker without time",
        BreakerRecord.decode,
        {"state": "open", "failures": 1, "opened_at": None, "trials": 0},
        "BreakerRecord.opened_at",
    ),
    ("breakers", decode_breakers, {"feed": 3}, "BreakerRecord: expected a JSON object"),
    ("state version", RouterState.decode, {"version": 2}, "version 2 is not 1"),
]


@pytest.mark.parametrize(
    ("decode", "doc", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_record_is_a_clear_error(decode: Decoder, doc: object, message: str) -> None:
    with pytest.raises(StateRecordError, match=message.replace("[", r"\[")) as info:
        decode(doc)
    assert isinstance(info.value, DeserializationError)  # one error tree: errors.py
