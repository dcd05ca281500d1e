"""The hand-written OCF writer: fastavro reads our files back to the same datums."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest

from pipeline.archive.format import ocf
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema, schema_text
from tests.unit.archive.conftest import generated

WRITER = fastavro.parse_schema(raw_schema(AUDIT_EVENT))
SYNC = bytes(range(16))


def encode(datum: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, WRITER, datum)
    return buf.getvalue()


@pytest.fixture(scope="module")
def datums() -> list[dict[str, Any]]:
    schema = parsed_schema(AUDIT_EVENT)
    return [jsonform.from_json(schema, d) for d in generated(120, seed=11)]


@pytest.mark.parametrize("codec", ["null", "deflate", "zstandard"])
@pytest.mark.parametrize("block_bytes", [1, 2000, ocf.BLOCK_BYTES])
def test_fastavro_reads_back_the_same_datums(
    datums: list[dict[str, Any]], codec: str, block_bytes: int
) -> None:
    bodies = [encode(d) for d in datums]
    data = ocf.write_ocf(
        schema_text(AUDIT_EVENT), bodies, sync=SYNC, codec=codec, block_bytes=block_bytes
    )
    reader = fastavro.reader(io.BytesIO(data))
    assert reader.codec == codec
    assert list(reader) == datums
    contents = ocf.read_ocf(data)
    assert contents.bodies() == bodies
    assert contents.count == len(bodies)
    assert contents.codec == codec


def test_default_codec_is_zstandard_when_available() -> None:
    assert ocf.DEFAULT_CODEC == "zstandard"


def test_output_is_deterministic(datums: list[dict[str, Any]]) -> None:
    bodies = [encode(d) for d in datums]
    one = ocf.write_ocf(schema_text(AUDIT_EVENT), bodies, sync=SYNC)
    two = ocf.write_ocf(schema_text(AUDIT_EVENT), bodies, sync=SYNC)
    assert one == two


@pytest.mark.parametrize("value", [0, 1, -1, 63, -64, 64, 2**31, -(2**63), 2**63 - 1])
def test_long_round_trip(value: int) -> None:
    encoded = ocf.encode_long(value)
    assert ocf.read_long(encoded, 0) == (value, len(encoded))
    out = io.BytesIO()
    fastavro.schemaless_writer(out, "long", value)
    assert out.getvalue() == encoded


def test_corruption_is_an_ocf_error(datums: list[dict[str, Any]]) -> None:
    bodies = [encode(d) for d in datums[:10]]
    data = ocf.write_ocf(schema_text(AUDIT_EVENT), bodies, sync=SYNC, codec="null")
    with pytest.raises(ocf.OcfError, match="bad magic"):
        ocf.read_ocf(b"Obj\x02" + data[4:])
    with pytest.raises(ocf.OcfError, match="sync marker"):
        ocf.read_ocf(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ocf.OcfError):
        ocf.read_ocf(data[:-20])
    # a block whose size disagrees with the stored record lengths
    other = ocf.write_ocf(schema_text(AUDIT_EVENT), [*bodies[:9], bodies[9] + b"x"], sync=SYNC)
    header_end = ocf.read_header(data)[2]
    with pytest.raises(ocf.OcfError, match="record lengths"):
        ocf.read_ocf(data[:header_end] + other[ocf.read_header(other)[2] :])
