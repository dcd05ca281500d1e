"""The bad-input catalogue (issue 18, item 4): raw records a hostile or broken producer can put on
a raw topic, each with the DLQ reason code the sanitizer must give it. The same builders serve
the unit test (confluent-kafka's mock:// registry) and the integration test (the real broker
and registry): writer schemas a producer registered itself are registered the same way.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import orjson
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema, raw_schema
from pipeline.events.serde import AvroSerde
from pipeline.settings import SanitizerConfig

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = parsed_schema(AUDIT_EVENT)
GOOD_SERVICE = "api-gateway"  # in rules/services.yaml
UTF8_MARK = "@@@@"


@dataclass(frozen=True)
class Case:
    name: str  # catalogue entry
    value: bytes
    key: bytes | None
    code: str | None  # expected reason code; None: dropped as a duplicate


def event(eid: str, when: datetime, **over: Any) -> dict[str, Any]:
    """A valid event (JSON form) from the golden file."""
    doc: dict[str, Any] = orjson.loads(
        (ROOT / "tests" / "golden" / "audit_event.json").read_bytes()
    )
    doc.pop("pipeline")
    doc.update(event_id=eid, ts=jsonform.format_ts(when), service=GOOD_SERVICE)
    doc.update(over)
    return doc


def encode(serde: AvroSerde, doc: dict[str, Any], topic: str) -> bytes:
    return serde.serialize(jsonform.from_json(SCHEMA, doc), topic)


def _writer(client: SchemaRegistryClient, doc: dict[str, Any], subject: str) -> tuple[int, Any]:
    schema_id = client.register_schema(subject, Schema(orjson.dumps(doc).decode(), "AVRO"))
    return schema_id, fastavro.parse_schema(doc)


def _framed(schema_id: int, parsed: Any, datum: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, datum)
    return b"\x00" + schema_id.to_bytes(4, "big") + buf.getvalue()


def _fields(drop: str = "", retype: tuple[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(raw_schema(AUDIT_EVENT))
    doc["fields"] = [f for f in doc["fields"] if f["name"] != drop]
    if retype is not None:
        for f in doc["fields"]:
            if f["name"] == retype[0]:
                f["type"] = retype[1]
                f.pop("default", None)
    return doc


def catalogue(
    client: SchemaRegistryClient,
    serde: AvroSerde,
    topic: str,
    now: datetime,
    limits: SanitizerConfig,
    tag: str,
) -> list[Case]:
    """Every entry of the catalogue; ``tag`` keeps this run's event ids and subjects apart."""

    def good(name: str, **over: Any) -> dict[str, Any]:
        return event(f"{tag}-{name}", now, **over)

    def value(name: str, **over: Any) -> bytes:
        return encode(serde, good(name, **over), topic)

    key = b"actor-1"
    base = value("base")
    datum = jsonform.from_json(SCHEMA, good("writer"))
    cases = [
        Case("undecodable bytes (truncated body)", base[: len(base) // 2], key, "undecodable"),
        Case("undecodable bytes (trailing bytes)", base + b"\x02zz", key, "undecodable"),
        Case("no schema id (not wire format)", b"card 4111 1111 1111 1111", key, "no_schema_id"),
        Case("no schema id (empty value)", b"", key, "no_schema_id"),
        Case(
            "unknown schema id",
            b"\x00" + (2**31 - 11).to_bytes(4, "big") + base[5:],
            key,
            "unknown_schema_id",
        ),
    ]
    stamp = jsonform.format_ts(now)
    alert = {
        "alert_id": "a", "rule_id": "r", "title": "t", "severity": "LOW", "ts": stamp,
        "count": 1, "first_event_ts": stamp, "last_event_ts": stamp, "dedup_key": "d",
    }  # fmt: skip
    wrong = AvroSerde(client, ALERT).serialize(
        jsonform.from_json(parsed_schema(ALERT), alert), topic
    )
    cases.append(Case("wrong-subject schema (an Alert)", wrong, key, "wrong_subject"))

    sid, parsed = _writer(client, _fields(drop="request_id"), f"hostile-{tag}-missing")
    no_request = {k: v for k, v in datum.items() if k != "request_id"}
    cases.append(
        Case(
            "missing required field (writer lacks request_id)",
            _framed(sid, parsed, no_request),
            key,
            "missing_field",
        )
    )
    cases.append(
        Case(
            "missing required field (empty event_id)", value("x", event_id=""), key, "missing_field"
        )
    )
    sid, parsed = _writer(client, _fields(retype=("ts", "string")), f"hostile-{tag}-type")
    cases.append(
        Case(
            "wrong type (ts as a string)",
            _framed(sid, parsed, {**datum, "ts": "yesterday"}),
            key,
            "wrong_type",
        )
    )
    nullable = ["null", {"type": "long", "logicalType": "timestamp-micros"}]
    sid, parsed = _writer(client, _fields(retype=("ts", nullable)), f"hostile-{tag}-null")
    cases.append(
        Case(
            "wrong type (null where ts is required)",
            _framed(sid, parsed, {**datum, "ts": None}),
            key,
            "wrong_type",
        )
    )

    marked = value("utf8", details={"note": UTF8_MARK})
    cases.append(
        Case(
            "invalid UTF-8",
            marked.replace(UTF8_MARK.encode(), b"\xff\xfe\xfd\xfc"),
            key,
            "invalid_utf8",
        )
    )
    cases.append(Case("NUL byte", value("nul", details={"note": "a\x00b"}), key, "nul_byte"))
    cases.append(
        Case("NUL byte in a map key", value("nulkey", details={"k\x00": "v"}), key, "nul_byte")
    )
    cases.append(
        Case(
            "oversize event",
            value(
                "big",
                details={
                    f"part{i}": "x" * (limits.max_field_bytes // 2)
                    for i in range(2 * limits.max_event_bytes // limits.max_field_bytes + 1)
                },
            ),
            key,
            "oversize_event",
        )
    )
    cases.append(
        Case(
            "oversize field",
            value("field", details={"note": "y" * (limits.max_field_bytes + 1)}),
            key,
            "oversize_field",
        )
    )
    cases.append(
        Case(
            "huge map",
            value("map", details={f"k{i}": "v" for i in range(limits.max_entries + 1)}),
            key,
            "too_many_entries",
        )
    )
    cases.append(
        Case(
            "huge list",
            value(
                "list",
                actor={"id": "u1", "type": "user", "roles": ["r"] * (limits.max_entries + 1)},
            ),
            key,
            "too_many_entries",
        )
    )

    nested: Any = "string"
    for _ in range(60):
        nested = {"type": "map", "values": nested}
    sid, parsed = _writer(client, _fields(retype=("details", nested)), f"hostile-{tag}-deep")
    cases.append(
        Case(
            "deeply nested details", _framed(sid, parsed, {**datum, "details": {}}), key, "too_deep"
        )
    )
    ahead = now + timedelta(seconds=limits.max_future_s + 86400)
    behind = now - timedelta(seconds=limits.max_age_s + 86400)
    cases.append(
        Case(
            "timestamp far in the future",
            encode(serde, event(f"{tag}-future", ahead), topic),
            key,
            "ts_future",
        )
    )
    cases.append(
        Case(
            "timestamp far in the past",
            encode(serde, event(f"{tag}-past", behind), topic),
            key,
            "ts_past",
        )
    )
    cases.append(
        Case(
            "timestamp at the epoch",
            encode(serde, event(f"{tag}-epoch", datetime(1970, 1, 1, tzinfo=UTC)), topic),
            key,
            "ts_past",
        )
    )
    cases.append(Case("no key", value("nokey"), None, "no_key"))
    dup = value("dup")
    cases.append(Case("duplicate event id (first copy)", dup, key, "ok"))
    cases.append(Case("duplicate event id (second copy)", dup, key, None))
    cases.append(Case("duplicate event id (third copy)", dup, key, None))
    return cases
