"""``--format parquet``: events as a Parquet file with the event schema's nesting kept.

The Arrow schema is derived from the local ``audit_event`` Avro schema: records become structs,
arrays lists, maps ``map<string, …>``, optional fields nullable, enums strings and
``timestamp-micros`` UTC timestamps, so DuckDB, pandas or Spark read ``actor.id`` or
``http.status`` as they are. Rows are written in row groups of ``ROW_GROUP`` events (memory
stays bounded). A column ``_unverified`` names the archive batch of events emitted with
``--allow-unverified`` (null otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import ConfigError, InvalidEventError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.replay.output import Origin

ROW_GROUP = 10_000
UNVERIFIED = "_unverified"

_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "enum": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "bytes": pa.binary(),
}


def arrow_type(schema: Any) -> tuple[pa.DataType, bool]:
    """(Arrow type, nullable) of an expanded Avro schema."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) != 1:
            raise ConfigError("Parquet export: only [null, T] unions are supported")
        return arrow_type(branches[0])[0], True
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(schema, dict):
        logical = schema.get("logicalType")
        if kind == "long" and logical == "timestamp-micros":
            return pa.timestamp("us", tz="UTC"), False
        if kind == "long" and logical == "timestamp-millis":
            return pa.timestamp("ms", tz="UTC"), False
        if kind == "record":
            return pa.struct([_field(f) for f in schema["fields"]]), False
        if kind == "array":
            item, nullable = arrow_type(schema["items"])
            return pa.list_(pa.field("item", item, nullable)), False
        if kind == "map":
            value, nullable = arrow_type(schema["values"])
            return pa.map_(pa.string(), pa.field("value", value, nullable)), False
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind], False
    raise ConfigError(f"Parquet export: Avro type {kind!r} is not supported")


def _field(f: dict[str, Any]) -> pa.Field:
    t, nullable = arrow_type(f["type"])
    return pa.field(f["name"], t, nullable)


def arrow_schema(avro: dict[str, Any]) -> pa.Schema:
    return pa.schema([*(_field(f) for f in avro["fields"]), pa.field(UNVERIFIED, pa.string())])


def _maps_as_pairs(schema: Any, value: Any) -> Any:
    """Arrow takes map values as lists of (key, value) pairs."""
    if value is None:
        return None
    if isinstance(schema, list):
        branch = next(b for b in schema if b != "null")
        return _maps_as_pairs(branch, value)
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            return {
                f["name"]: _maps_as_pairs(f["type"], value.get(f["name"])) for f in schema["fields"]
            }
        if kind == "map":
            return [(k, _maps_as_pairs(schema["values"], v)) for k, v in value.items()]
        if kind == "array":
            return [_maps_as_pairs(schema["items"], v) for v in value]
    return value


class ParquetSink:
    """Events (JSON form) to a Parquet file, a row group per ``ROW_GROUP`` events."""

    def __init__(self, path: Path) -> None:
        self._avro = parsed_schema(AUDIT_EVENT)
        self._schema = arrow_schema(self._avro)
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")
        self._rows: list[dict[str, Any]] = []
        self.rejected = 0

    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        mark = doc.pop(UNVERIFIED, None) if UNVERIFIED in doc else None
        try:
            datum = jsonform.from_json(self._avro, doc)
        except InvalidEventError:  # another schema version's event: not in this file's schema
            self.rejected += 1
            return
        row = _maps_as_pairs(self._avro, datum)
        row[UNVERIFIED] = mark
        self._rows.append(row)
        if len(self._rows) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
