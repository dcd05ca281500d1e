"""Hypothesis fuzzing of the Avro decoder path (issue 18, item 4): whatever bytes a producer writes
and whatever writer schema it registers, ``AvroSerde.deserialize`` returns a record or raises
``DeserializationError`` whose reason starts with a reason code and quotes nothing of the input;
and the sanitizer's ``process`` never raises for such a record: one output, to the events topic
or to the DLQ. (confluent-kafka's mock:// registry; no broker.)"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import Message
from confluent_kafka.schema_registry import Schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import DeserializationError
from pipeline.events.dlq import REASON_HEADER, DlqKey, Reason
from pipeline.events.schemas import AUDIT_EVENT, DLQ_ENVELOPE, parsed_schema, raw_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.events.writers import parse_writer
from pipeline.sanitizer.processor import SanitizerProcessor
from tests.harness.bad_input import encode, event

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
CLIENT = registry_client("mock://fuzz-serde")
EVENTS = AvroSerde(CLIENT, AUDIT_EVENT)
DLQ = AvroSerde(CLIENT, DLQ_ENVELOPE)
GOOD = encode(EVENTS, event("e1", NOW, details={"note": "Zq7Zq7"}), "audit.raw.x")
CODES = {r.value for r in Reason}
MARK = b"Zq7"
PROC = SanitizerProcessor(
    events_serde=EVENTS,
    dlq_serde=DLQ,
    enrich=lambda d, **_: d,
    scrub=lambda d: d,
    dlq_key=DlqKey("k1", os.urandom(32)),
    events_topic="audit.events",
    dlq_topic="audit.dlq",
    clock=lambda: NOW,
)
PROC.recent.window = 0  # every example may reuse an event id


def _check_reason(reason: str) -> None:
    code = reason.split(":", 1)[0]
    assert code in CODES, reason
    assert "Zq7" not in reason


def _decode(value: bytes) -> None:
    error: DeserializationError | None = None
    try:
        datum = EVENTS.deserialize(value, "audit.raw.x")
    except DeserializationError as exc:
        error = exc
    if error is None:
        assert isinstance(datum, dict)
        return
    _check_reason(error.reason)
    assert error.raw == value


def _process(value: bytes) -> None:
    msg = Message(topic="audit.raw.x", partition=0, offset=1, key=b"k", value=value)
    [out] = PROC.process(msg)
    if out.topic == "audit.dlq":
        letter = DLQ.deserialize(out.value, "audit.dlq")
        _check_reason(letter["reason"])
        assert letter["headers"][REASON_HEADER] in CODES
        assert MARK not in out.value  # the raw bytes are encrypted
    else:
        assert out.topic == "audit.events"


mutation = st.tuples(
    st.sampled_from(["flip", "truncate", "insert", "delete"]),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=255),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(mutation, min_size=1, max_size=4))
def test_any_mutation_of_a_valid_record_decodes_or_is_dead_lettered(
    ops: list[tuple[str, int, int]],
) -> None:
    data = bytearray(GOOD)
    for op, where, byte in ops:
        i = where % max(1, len(data))
        if op == "flip" and data:
            data[i] ^= byte
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = bytes([byte])
        elif op == "delete" and data:
            del data[i]
    _decode(bytes(data))
    _process(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=2**32 - 1))
def test_arbitrary_bytes_with_or_without_framing_never_crash(body: bytes, schema_id: int) -> None:
    for value in (body, b"\x00" + schema_id.to_bytes(4, "big") + body, GOOD[:5] + body):
        _decode(value)
        _process(value)


# --- writer schemas a producer could register ---------------------------------------------------

names = st.sampled_from(["Zq7a", "Zq7b", "event_id", "ts", "actor", "details", "service"])
primitive = st.sampled_from(
    ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
)
types = st.recursive(
    primitive,
    lambda inner: st.one_of(
        st.builds(lambda t: {"type": "array", "items": t}, inner),
        st.builds(lambda t: {"type": "map", "values": t}, inner),
        st.lists(inner, min_size=1, max_size=3, unique_by=orjson.dumps).filter(
            lambda u: all(not isinstance(b, list) for b in u)
        ),
    ),
    max_leaves=6,
)


@st.composite
def writer_schemas(draw: st.DrawFn) -> dict[str, Any]:
    """The event schema with fields dropped, retyped or added, or another record altogether."""
    doc: dict[str, Any] = orjson.loads(orjson.dumps(raw_schema(AUDIT_EVENT)))
    fields = doc["fields"]
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(fields) - 1))
        op = draw(st.sampled_from(["drop", "retype", "add"]))
        if op == "drop" and len(fields) > 1:
            fields.pop(i)
        elif op == "retype":
            fields[i] = {"name": fields[i]["name"], "type": draw(types)}
        elif op == "add":
            name = draw(names)
            if all(f["name"] != name for f in fields):
                fields.append({"name": name, "type": draw(types)})
    if draw(st.integers(0, 5)) == 0:
        doc["name"] = "Zq7Other"
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writer_schemas())
def test_any_writer_schema_is_judged_with_a_code_and_never_quoted(doc: dict[str, Any]) -> None:
    text = orjson.dumps(doc).decode()
    try:
        parse_writer(text, parsed_schema(AUDIT_EVENT))
    except DeserializationError as exc:
        _check_reason(exc.reason)
        return
    # accepted: a record written with it decodes, or fails per datum with a code
    subject = f"fuzz-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    schema_id = CLIENT.register_schema(subject, Schema(text, "AVRO"))
    _decode(b"\x00" + schema_id.to_bytes(4, "big") + GOOD[5:])
