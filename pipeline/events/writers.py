"""Judge a producer's writer schema once, before any record written with it is decoded.

A raw record names its writer schema by registry id, and the registry holds whatever any
producer registered, under any subject. Before the first record of a schema id is decoded,
the writer schema is checked against the schema we read with (the reader), by the rules of
Avro schema resolution, and a failure gets a reason code (``pipeline.events.dlq.Reason``):

- ``too_deep``: the schema's JSON nests deeper than ``MAX_SCHEMA_DEPTH`` (ours nests 10 deep;
  a deeply nested ``details`` would be a map of maps of maps ...): refused before parsing,
  so neither the JSON parser nor fastavro recurses on it;
- ``wrong_subject``: the schema is not a record of the reader's full name. The project names
  subjects by record (``RecordNameStrategy``: subject = ``dev.auditpipe.v1.AuditEvent``), so a
  different record is a different subject, wherever it was registered; a schema that does not
  parse is refused the same way;
- ``missing_field``: a field the reader requires (no default) is not in the writer;
- ``wrong_type``: a field's writer type cannot resolve to the reader's (a string where a
  timestamp is due, a map of maps where a map of strings is).

Some failures depend on the datum (a writer union with a ``null`` branch for a required field
resolves only when the value is not null): those surface when the record is decoded, and the
serde gives them the same ``wrong_type`` code. Reasons name paths of the *reader* schema only:
the writer's names and symbols are the producer's text and never appear in a reason.
"""

from __future__ import annotations

from typing import Any

import fastavro
import orjson

from pipeline.errors import DeserializationError

MAX_SCHEMA_DEPTH = 48  # JSON nesting; the event schema's is 10

_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def json_depth(text: str) -> int:
    """The nesting depth of JSON text, counted without parsing it (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_writer(text: str, reader: dict[str, Any]) -> Any:
    """The parsed writer schema of ``text``; raises ``DeserializationError`` with a reason
    code when it cannot serve to read events of ``reader`` (see the module's doc)."""
    if json_depth(text) > MAX_SCHEMA_DEPTH:
        raise DeserializationError(
            f"too_deep: the writer schema nests more than {MAX_SCHEMA_DEPTH} levels"
        )
    named: dict[str, Any] = {}
    try:
        writer = fastavro.parse_schema(orjson.loads(text), named_schemas=named)
    except Exception as exc:  # JSON and schema errors quote the text: keep the type only
        raise DeserializationError(
            f"wrong_subject: the writer schema does not parse ({type(exc).__name__})"
        ) from None
    if not isinstance(writer, dict) or writer.get("name") != reader["name"]:
        raise DeserializationError(
            f"wrong_subject: the writer schema is not the {reader['name']} record"
        )
    problem = _Resolver(named).record(reader, writer, "")
    if problem is not None:
        raise DeserializationError(problem)
    return writer


class _Resolver:
    """Avro's resolution rules, reader side first; returns the first problem or None."""

    def __init__(self, named: dict[str, Any]) -> None:
        # the reader drives the walk and is finite (expanded, not recursive), so a recursive
        # writer type cannot make it loop
        self._named = named

    def _deref(self, writer: Any) -> Any:
        if isinstance(writer, str) and writer not in _PRIMITIVES:
            return self._named.get(writer, writer)
        return writer

    def resolve(self, reader: Any, writer: Any, path: str) -> str | None:
        writer = self._deref(writer)
        if isinstance(writer, list):  # writer union: resolved per datum, one branch suffices
            if any(self._quiet(reader, branch, path) for branch in writer):
                return None
            return f"wrong_type: {path or 'value'}: no type of the writer's union fits"
        if isinstance(reader, list):  # reader union: some branch must take the writer type
            if any(self._quiet(branch, writer, path) for branch in reader):
                return None
            return f"wrong_type: {path}: the writer type fits no branch of the event's union"
        r_type = reader if isinstance(reader, str) else reader["type"]
        w_type = writer if isinstance(writer, str) else writer.get("type")
        if r_type in _PRIMITIVES:
            if w_type == r_type or r_type in _PROMOTIONS.get(str(w_type), set()):
                return None
            return f"wrong_type: {path}: expected {r_type}"
        if w_type != r_type:
            return f"wrong_type: {path}: expected {r_type}"
        if r_type == "record":
            if writer.get("name") != reader["name"]:
                return f"wrong_type: {path}: expected the record {reader['name']}"
            return self.record(reader, writer, path)
        if r_type == "enum":
            if writer.get("name") != reader["name"]:
                return f"wrong_type: {path}: expected the enum {reader['name']}"
            return None  # unknown symbols fail per datum, at decode time
        if r_type == "array":
            return self.resolve(reader["items"], writer["items"], f"{path}[]")
        if r_type == "map":
            return self.resolve(reader["values"], writer["values"], f"{path}{{}}")
        if r_type == "fixed":
            same = writer.get("name") == reader["name"] and writer.get("size") == reader["size"]
            return None if same else f"wrong_type: {path}: expected the fixed {reader['name']}"
        return f"wrong_type: {path}: unsupported type {r_type}"

    def _quiet(self, reader: Any, writer: Any, path: str) -> bool:
        return self.resolve(reader, writer, path) is None

    def record(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> str | None:
        fields = {f["name"]: f for f in writer.get("fields", [])}
        for field in reader["fields"]:
            name = field["name"]
            where = f"{path}.{name}" if path else name
            found = fields.get(name)
            if found is None:
                found = next((fields[a] for a in field.get("aliases", []) if a in fields), None)
            if found is None:
                if "default" in field:
                    continue
                return f"missing_field: {where}: required, absent from the writer schema"
            problem = self.resolve(field["type"], found["type"], where)
            if problem is not None:
                return problem
        return None
