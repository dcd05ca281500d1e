"""Field paths of the event schema, and fast access to them in JSON-form events.

Rules name fields by the event's JSON-form dotted path (``actor.id``, ``http.status``,
``details.format``). ``schema_fields`` lists every path the schema allows so a rule that names
an unknown field is a lint error, not a rule that silently never matches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.events.schemas import AUDIT_EVENT, parsed_schema

Getter = Callable[[dict[str, Any]], Any]
_MISSING = object()


def _walk(schema: Any, prefix: str, leaves: set[str], maps: set[str]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            if branch != "null":
                _walk(branch, prefix, leaves, maps)
        return
    kind = schema if isinstance(schema, str) else schema.get("type")
    if kind == "record":
        for field in schema["fields"]:
            path = f"{prefix}.{field['name']}" if prefix else field["name"]
            _walk(field["type"], path, leaves, maps)
        if prefix:
            leaves.add(prefix)
        return
    if kind == "map":
        maps.add(prefix)
    leaves.add(prefix)


def schema_fields(name: str = AUDIT_EVENT) -> tuple[frozenset[str], frozenset[str]]:
    """(every dotted path, the paths that are maps and so accept any sub-key)."""
    leaves: set[str] = set()
    maps: set[str] = set()
    _walk(parsed_schema(name), "", leaves, maps)
    return frozenset(leaves), frozenset(maps)


def is_known_field(path: str, known: tuple[frozenset[str], frozenset[str]]) -> bool:
    leaves, maps = known
    if path in leaves:
        return True
    return any(path.startswith(f"{m}.") for m in maps)


def getter(path: str) -> Getter:
    """A function returning the value at ``path`` of an event, or None when absent."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]
        return lambda doc: doc.get(key)
    if len(parts) == 2:
        first, second = parts

        def two(doc: dict[str, Any]) -> Any:
            inner = doc.get(first)
            return inner.get(second) if isinstance(inner, dict) else None

        return two

    def deep(doc: dict[str, Any]) -> Any:
        value: Any = doc
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return None
        return value

    return deep


def as_text(value: Any) -> str:
    """A field value as the string used in group keys and alerts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(as_text(v) for v in value)
    return "" if value is None else str(value)
