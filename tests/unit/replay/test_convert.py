"""The compiled converter gives exactly ``jsonform.to_json``'s JSON form."""

from __future__ import annotations

import io
import itertools

import fastavro

from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from pipeline.produce.generator import EventGenerator
from pipeline.replay.convert import record_converter, without_timestamp_logic
from tests.unit.replay.conftest import GOLDEN


def test_same_json_form_as_the_generic_walk() -> None:
    raw = raw_schema(AUDIT_EVENT)
    expanded = fastavro.parse_schema(raw, expand=True, _write_hint=False)
    writer = fastavro.parse_schema(raw)
    plain = fastavro.parse_schema(without_timestamp_logic(raw))
    convert = record_converter(expanded)
    schema = parsed_schema(AUDIT_EVENT)
    docs = [GOLDEN, *itertools.islice(EventGenerator(seed=3).events(), 500)]
    for doc in docs:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, jsonform.from_json(schema, doc))
        body = buf.getvalue()
        with_logic = fastavro.schemaless_reader(io.BytesIO(body), writer, None)
        as_longs = fastavro.schemaless_reader(io.BytesIO(body), plain, None)
        assert isinstance(with_logic, dict)
        expected = jsonform.to_json(expanded, with_logic)
        assert convert(with_logic) == expected
        assert convert(as_longs) == expected
        assert expected == doc
