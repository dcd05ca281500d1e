"""Event bodies as the archive holds them: the Confluent wire format split into schema id and Avro
body, and the two fields the manifest needs read from a body's first bytes without decoding it.

The archiver never decodes events: a Kafka value in the Confluent wire format (magic 0, 4-byte
big-endian schema id, Avro binary body) is split into schema id and body, and the bodies go into
the container as they are (``ocf``). The two fields the manifest needs, ``event_id`` and ``ts``,
are the first two fields of ``AuditEvent`` (a string and a long), so ``peek_id_ts`` reads them
from the body's first bytes; ``check_layout`` refuses a schema where that is not so.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fastavro

from pipeline.errors import ConfigError, DeserializationError

WIRE_MAGIC = 0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def split_wire(value: bytes) -> tuple[int, bytes]:
    """(schema id, Avro body) of a Confluent wire-format value."""
    if len(value) < 5 or value[0] != WIRE_MAGIC:
        raise DeserializationError("not in the Confluent wire format (magic byte 0 + schema id)")
    return int.from_bytes(value[1:5], "big"), value[5:]


def check_layout(schema: dict[str, Any]) -> None:
    """Refuse a schema whose first fields are not ``event_id: string``, ``ts: long``."""
    fields = schema.get("fields", [])
    names = [(f.get("name"), f.get("type")) for f in fields[:2]]
    ok = (
        len(names) == 2
        and names[0] == ("event_id", "string")
        and names[1][0] == "ts"
        and isinstance(names[1][1], dict)
        and names[1][1].get("type") == "long"
        and names[1][1].get("logicalType") == "timestamp-micros"
    )
    if not ok:
        raise ConfigError(
            "archive needs a schema starting with event_id: string, ts: timestamp-micros"
        )


def schema_sha256(schema: dict[str, Any]) -> str:
    """SHA-256 of the schema's Parsing Canonical Form (hex)."""
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos``: (value, next position); an inlined copy of ``ocf.read_long``
    for the hot path. A truncated buffer raises IndexError."""
    b = buf[pos]
    n = b & 0x7F
    shift = 7
    pos += 1
    while b & 0x80:
        b = buf[pos]
        n |= (b & 0x7F) << shift
        shift += 7
        pos += 1
    return (n >> 1) ^ -(n & 1), pos


def peek_id_ts(body: bytes) -> tuple[str, int]:
    """``event_id`` and ``ts`` (µs since the epoch) from the first bytes of an AuditEvent body."""
    try:
        size, pos = read_long(body, 0)
        end = pos + size
        if size < 0 or end > len(body):
            raise IndexError
        event_id = body[pos:end].decode()
        ts, _ = read_long(body, end)
    except (IndexError, UnicodeDecodeError):
        raise DeserializationError("body does not start with event_id and ts", raw=body) from None
    return event_id, ts


def micros_to_datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def micros_to_date(micros: int) -> date:
    return micros_to_datetime(micros).date()


def peek_ts(body: bytes) -> int:
    """``ts`` alone: skips ``event_id`` without decoding it (the archiver's per-record path)."""
    try:
        size, pos = read_long(body, 0)
        if size < 0 or pos + size > len(body):
            raise IndexError
        ts, _ = read_long(body, pos + size)
    except IndexError:
        raise DeserializationError("body does not start with event_id and ts", raw=body) from None
    return ts
