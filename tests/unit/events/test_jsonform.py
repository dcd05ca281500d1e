"""The JSON form: precise errors, and JSON -> Avro -> JSON round trips (hypothesis)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings

from pipeline.errors import InvalidEventError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from tests.unit.events.strategies import events

SCHEMA = parsed_schema(AUDIT_EVENT)
WRITER = fastavro.parse_schema(raw_schema(AUDIT_EVENT))


def minimal(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": "0b9f3f8e-4f7e-4a8e-9a51-1d1c6f0c2f11",
        "ts": "2026-11-01T10:00:00.123456Z",
        "service": "billing-api",
        "environment": "prod",
        "category": "AUTHN",
        "action": "login",
        "outcome": "SUCCESS",
        "actor": {"id": "u-42", "type": "user"},
        "request_id": "req-1",
    }
    doc.update(over)
    return {k: v for k, v in doc.items() if v is not None}


def _avro_round_trip(datum: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, WRITER, datum)
    buf.seek(0)
    out = fastavro.schemaless_reader(buf, WRITER, None)
    assert isinstance(out, dict)
    return out


def test_minimal_event_gets_defaults() -> None:
    datum = jsonform.from_json(SCHEMA, minimal())
    assert datum["ts"] == datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert datum["actor"]["roles"] == []
    assert datum["details"] == {}
    assert datum["target"] is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (minimal(category=None), "category: is required"),
        (minimal(category="LOGIN"), "category: must be one of AUTHN"),
        (minimal(actor={"type": "user"}), "actor.id: is required"),
        (
            minimal(actor={"id": "u", "type": "user", "roles": ["a", 3]}),
            "actor.roles[1]: expected a string",
        ),
        (minimal(ts="yesterday"), "ts: not an RFC 3339 timestamp"),
        (
            minimal(ts="2026-11-01T10:00:00"),
            "ts: timestamp has no UTC offset",
        ),
        (
            minimal(http={"method": "GET", "path": "/", "status": "200"}),
            "http.status: expected an integer",
        ),
        # keys from the input are named by a hash, never themselves (issue 16)
        (minimal(details={"k": 1}), f"details[{jsonform.input_key('k')}]: expected a string"),
        (minimal(colour="red"), f"{jsonform.input_key('colour')}: unknown field"),
        (
            minimal(actor={"id": "u", "type": "user", "email": "x"}),
            f"actor.{jsonform.input_key('email')}: unknown field",
        ),
        (minimal(data={"record_count": True}), "data.record_count: expected an integer, got bool"),
    ],
)
def test_errors_name_the_field_path_and_reason(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEventError) as exc:
        jsonform.from_json(SCHEMA, doc)
    assert str(exc.value).startswith(message)


def test_not_json_is_an_error() -> None:
    with pytest.raises(InvalidEventError, match="not valid JSON"):
        jsonform.loads(SCHEMA, b"{nope")


def test_offsets_are_normalized_to_utc() -> None:
    datum = jsonform.from_json(SCHEMA, minimal(ts="2026-11-01T12:00:00.5+02:00"))
    assert jsonform.to_json(SCHEMA, datum)["ts"] == "2026-11-01T10:00:00.500000Z"


@settings(max_examples=300, deadline=None)
@given(events())
def test_json_avro_json_round_trip(doc: dict[str, Any]) -> None:
    datum = jsonform.from_json(SCHEMA, doc)
    back = jsonform.to_json(SCHEMA, _avro_round_trip(datum))
    expected = jsonform.to_json(SCHEMA, datum)
    assert back == expected
    # every field given is kept, with its value
    for key, value in doc.items():
        if key not in ("actor", "pipeline"):
            assert back[key] == value


@settings(max_examples=200, deadline=None)
@given(events())
def test_dumps_loads_is_identity_on_the_datum(doc: dict[str, Any]) -> None:
    datum = jsonform.from_json(SCHEMA, doc)
    assert jsonform.loads(SCHEMA, jsonform.dumps(SCHEMA, datum)) == datum


def test_errors_never_echo_the_value() -> None:
    secret = "alice@example.com"
    for doc in (
        minimal(category=secret),
        minimal(ts=secret),
        minimal(outcome=secret),
        minimal(actor={"id": "u", "type": "user", "roles": secret}),
        minimal(http={"method": "GET", "path": "/", "status": secret}),
    ):
        with pytest.raises(InvalidEventError) as exc:
            jsonform.from_json(SCHEMA, doc)
        assert secret not in str(exc.value)
