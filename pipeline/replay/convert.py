"""Avro datum -> JSON form, compiled once per writer schema (the replay's hot path).

``events.jsonform.to_json`` walks the schema for every value (~8k events/s); this builds one
closure per field from the same schema and gives the same result (a unit test holds the two to
it) several times faster. Timestamps are read as plain longs (``reader_schema`` drops their
logical type, so fastavro does not build a ``datetime`` per value) and formatted here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pipeline.events.jsonform import to_json_value

Convert = Callable[[Any], Any]
_EPOCH = datetime(1970, 1, 1)  # naive: formatted with a literal "Z"
_TS = ("timestamp-micros", "timestamp-millis")


def _identity(value: Any) -> Any:
    return value


def _ts_converter(logical: str) -> Convert:
    unit = 1 if logical == "timestamp-micros" else 1000

    def convert(value: Any) -> Any:
        if isinstance(value, int):
            moment = _EPOCH + timedelta(microseconds=value * unit)
            return moment.isoformat(timespec="microseconds") + "Z"
        return to_json_value({"type": "long", "logicalType": logical}, value)

    return convert


def _compile(schema: Any) -> Convert:
    if isinstance(schema, str):
        return _identity if schema != "bytes" else (lambda v: to_json_value("bytes", v))
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) == 1:
            inner = _compile(branches[0])
            return lambda v: None if v is None else inner(v)
        return lambda v: to_json_value(schema, v)  # a general union: the generic walk
    kind = schema.get("type")
    logical = schema.get("logicalType")
    if kind == "long" and logical in _TS:
        return _ts_converter(logical)
    if kind == "record":
        return record_converter(schema)
    if kind == "array":
        item = _compile(schema["items"])
        if item is _identity:
            return lambda v: list(v)
        return lambda v: [item(x) for x in v]
    if kind == "map":
        val = _compile(schema["values"])
        if val is _identity:
            return lambda v: dict(v)
        return lambda v: {k: val(x) for k, x in v.items()}
    if kind in ("enum", "string", "int", "long", "float", "double", "boolean", "fixed"):
        return _identity if kind != "fixed" else (lambda v: to_json_value(schema, v))
    return lambda v: to_json_value(schema, v)


def record_converter(schema: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """``jsonform.to_json(schema, datum)`` compiled for ``schema`` (fastavro's expanded form)."""
    fields = [(f["name"], _compile(f["type"])) for f in schema["fields"]]

    def convert(datum: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        get = datum.get
        for name, conv in fields:
            value = get(name)
            if value is not None:
                converted = conv(value)
                if converted is not None:
                    out[name] = converted
        return out

    return convert


def without_timestamp_logic(schema: Any) -> Any:
    """``schema`` (as JSON) with timestamp logical types removed: fastavro then returns longs."""
    if isinstance(schema, list):
        return [without_timestamp_logic(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: without_timestamp_logic(v) for k, v in schema.items()}
    if out.get("logicalType") in _TS:
        del out["logicalType"]
    return out
