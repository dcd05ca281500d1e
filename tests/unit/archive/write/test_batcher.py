"""Batches: wire format, the id/ts peek, keys, and cutting by count, bytes, age and schema."""

from __future__ import annotations

import io
from datetime import date

import fastavro
import pytest

from pipeline.archive.format import layout
from pipeline.archive.format.body import check_layout, peek_id_ts, peek_ts, split_wire
from pipeline.archive.write.batcher import Batcher, BatchLimits, batch_of
from pipeline.errors import ConfigError, DeserializationError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from tests.unit.archive.conftest import generated

WRITER = fastavro.parse_schema(raw_schema(AUDIT_EVENT))
SCHEMA = parsed_schema(AUDIT_EVENT)


def body(doc: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, WRITER, jsonform.from_json(SCHEMA, doc))
    return buf.getvalue()


@pytest.fixture(scope="module")
def bodies() -> list[bytes]:
    return [body(d) for d in generated(40, seed=5)]


def test_split_wire() -> None:
    assert split_wire(b"\x00\x00\x00\x01\x02abc") == (258, b"abc")
    with pytest.raises(DeserializationError):
        split_wire(b"\x01\x00\x00\x00\x01abc")
    with pytest.raises(DeserializationError):
        split_wire(b"\x00\x00")


def test_peek_reads_event_id_and_ts_without_decoding() -> None:
    for doc in generated(50, seed=9):
        event_id, ts = peek_id_ts(body(doc))
        assert event_id == doc["event_id"]
        assert jsonform.format_ts(jsonform.parse_ts(doc["ts"], "ts")) == jsonform.to_json_value(
            {"type": "long", "logicalType": "timestamp-micros"}, ts
        )
        assert peek_ts(body(doc)) == ts  # the archiver's path: event_id skipped, not decoded
    with pytest.raises(DeserializationError):
        peek_id_ts(b"\x7f")
    for truncated in (b"\x7f", b"\x04ab", b"\x08abc", b"\x04ab\xff"):
        with pytest.raises(DeserializationError):
            peek_ts(truncated)


def test_check_layout() -> None:
    check_layout(SCHEMA)
    with pytest.raises(ConfigError):
        check_layout({"type": "record", "name": "X", "fields": [{"name": "a", "type": "int"}]})


def test_object_key_uses_first_event_date(bodies: list[bytes]) -> None:
    batch = batch_of("audit.events", 3, 120, bodies[:5])
    assert batch.object_key() == (
        "events/audit.events/dt=2026-11-01/p=3/00000000000000000120-00000000000000000124.avro"
    )
    parsed = layout.parse_batch_key(batch.object_key())
    assert parsed == layout.BatchKey("audit.events", date(2026, 11, 1), 3, 120, 124)


def test_batcher_cuts_by_count(bodies: list[bytes]) -> None:
    b = Batcher("t", BatchLimits(max_events=10))
    out = [x for i, body in enumerate(bodies[:25]) for x in b.add(0, i, 1, body, 0.0)]
    assert [(x.first_offset, x.last_offset) for x in out] == [(0, 9), (10, 19)]
    rest = b.flush()
    assert [(x.first_offset, x.last_offset) for x in rest] == [(20, 24)]


def test_batcher_cuts_by_bytes(bodies: list[bytes]) -> None:
    b = Batcher("t", BatchLimits(max_bytes=len(bodies[0]) + 1))
    out = [x for i in range(4) for x in b.add(0, i, 1, bodies[0], 0.0)]
    assert [x.count for x in out] == [2, 2]


def test_batcher_cuts_by_age_per_partition(bodies: list[bytes]) -> None:
    b = Batcher("t", BatchLimits(max_age_s=5))
    b.add(0, 0, 1, bodies[0], now=0.0)
    b.add(1, 0, 1, bodies[1], now=3.0)
    assert b.due(4.0) == []
    assert [x.partition for x in b.due(5.0)] == [0]
    assert [x.partition for x in b.due(8.0)] == [1]


def test_batcher_cuts_on_schema_change_and_gap_and_skips_duplicates(bodies: list[bytes]) -> None:
    b = Batcher("t", BatchLimits(), archived={0: 2})
    assert b.add(0, 1, 1, bodies[0], 0.0) == []  # already archived
    assert b.add(0, 3, 1, bodies[0], 0.0) == []
    assert b.add(0, 3, 1, bodies[0], 0.0) == []  # redelivered
    cut = b.add(0, 4, 2, bodies[1], 0.0)  # new schema id
    assert [(x.first_offset, x.last_offset, x.schema_id) for x in cut] == [(3, 3, 1)]
    cut = b.add(0, 6, 2, bodies[2], 0.0)  # offset 5 skipped
    assert [(x.first_offset, x.last_offset) for x in cut] == [(4, 4)]
    assert [(x.first_offset, x.count) for x in b.flush()] == [(6, 1)]


def test_revoke_rewinds_to_the_archive_head(bodies: list[bytes]) -> None:
    b = Batcher("t", BatchLimits(max_events=5))
    closed = [batch for i in range(12) for batch in b.add(0, i, 1, bodies[i], 0.0)]
    assert [c.last_offset for c in closed] == [4, 9]
    # the batch 5..9 was closed but dropped unwritten: redelivered records must be taken again
    b.revoke(0, archived=4)
    again = [batch for i in range(5, 10) for batch in b.add(0, i, 1, bodies[i], 0.0)]
    assert [(c.first_offset, c.last_offset) for c in again] == [(5, 9)]
    b.revoke(0)  # without ``archived``: offsets up to the last closed batch stay skipped
    assert b.add(0, 7, 1, bodies[7], 0.0) == []
    assert b.flush() == []
