"""One golden file per schema in schemas/: JSON -> Avro binary -> JSON is exact, and the
binary encoding matches the stored one (a schema change that alters the encoding shows here).

To accept an intended encoding change: `AUDITPIPE_REGEN_GOLDEN=1 pytest tests/unit/events`
rewrites the .avro.b64 files; review the diff.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import fastavro
import orjson
import pytest

from pipeline.events import jsonform
from pipeline.events.schemas import parsed_schema, raw_schema, schema_files

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
NAMES = [p.stem for p in schema_files()]


def test_every_schema_has_a_golden_file() -> None:
    assert NAMES, "no schemas found"
    missing = [n for n in NAMES if not (GOLDEN / f"{n}.json").is_file()]
    assert missing == []


@pytest.mark.parametrize("name", NAMES)
def test_golden_round_trip(name: str) -> None:
    doc = orjson.loads((GOLDEN / f"{name}.json").read_bytes())
    schema = parsed_schema(name)
    datum = jsonform.from_json(schema, doc)
    buf = io.BytesIO()
    writer = fastavro.parse_schema(raw_schema(name))
    fastavro.schemaless_writer(buf, writer, datum)
    encoded = buf.getvalue()
    buf.seek(0)
    back = fastavro.schemaless_reader(buf, writer, None)
    assert isinstance(back, dict)
    assert jsonform.to_json(schema, back) == doc

    stored = GOLDEN / f"{name}.avro.b64"
    if os.environ.get("AUDITPIPE_REGEN_GOLDEN") == "1":
        stored.write_text(base64.b64encode(encoded).decode() + "\n")
    assert stored.exists(), f"{stored} missing: run with AUDITPIPE_REGEN_GOLDEN=1 and review"
    assert base64.b64decode(stored.read_text()) == encoded
