"""The selectable places of the event schema, and walking a datum to them.

A selector is a dotted path to a string (or enum) leaf of ``audit_event.avsc``:
``actor.id``; an array of strings by its name (``actor.roles``, each item); a map of strings
as ``details.*`` (every entry) or ``details.<key>`` (one entry, which wins over ``*``);
records inside arrays with ``[]`` (``pipeline.scrub[].kind``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: never altered by the scrubber: ids that join events across services, and the time
PROTECTED = frozenset({"event_id", "request_id", "trace_id", "span_id", "ts"})
#: written by the scrubber itself
OWNED = frozenset({"pipeline.key_version"})


@dataclass(frozen=True)
class Leaf:
    selector: str  # as written in a policy: actor.id, actor.roles, details.*
    segments: tuple[str, ...]  # walk steps: record keys, "[]" (array items), "*" (map values)
    kind: str  # string, enum, other
    nullable: bool  # the leaf may be set to null (an optional scalar)
    container: str  # scalar, array, map


def _type(schema: Any) -> tuple[Any, bool]:
    """The non-null branch of an optional union, and whether null was allowed."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return (branches[0] if len(branches) == 1 else branches), "null" in schema
    return schema, False


def _kind(schema: Any) -> str:
    name = schema if isinstance(schema, str) else schema.get("type")
    if name == "string":
        return "string"
    if name == "enum":
        return "enum"
    return "other"


def schema_leaves(schema: dict[str, Any]) -> dict[str, Leaf]:
    """Every selectable leaf of a record schema (parsed by fastavro with ``expand=True``)."""
    out: dict[str, Leaf] = {}

    def walk(record: dict[str, Any], prefix: str, segs: tuple[str, ...]) -> None:
        for field in record["fields"]:
            name = field["name"]
            sel = f"{prefix}{name}"
            steps = (*segs, name)
            ftype, nullable = _type(field["type"])
            tname = ftype if isinstance(ftype, str) else ftype.get("type")
            if tname == "record":
                walk(ftype, sel + ".", steps)
            elif tname == "array":
                items, _ = _type(ftype["items"])
                if isinstance(items, dict) and items.get("type") == "record":
                    walk(items, sel + "[].", (*steps, "[]"))
                else:
                    out[sel] = Leaf(sel, (*steps, "[]"), _kind(items), False, "array")
            elif tname == "map":
                values, _ = _type(ftype["values"])
                out[f"{sel}.*"] = Leaf(f"{sel}.*", (*steps, "*"), _kind(values), False, "map")
            else:
                out[sel] = Leaf(sel, steps, _kind(ftype), nullable, "scalar")

    walk(schema, "", ())
    return out


def locate(datum: Any, segments: tuple[str, ...]) -> Iterator[tuple[Any, Any, str]]:
    """``(container, key, path)`` of every value at ``segments`` (missing/None skipped)."""
    yield from _locate(datum, segments, 0, "")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _locate(node: Any, segs: tuple[str, ...], i: int, path: str) -> Iterator[tuple[Any, Any, str]]:
    seg = segs[i]
    last = i == len(segs) - 1
    if seg == "[]":
        if not isinstance(node, list):
            return
        for j, item in enumerate(node):
            if last:
                yield node, j, f"{path}[{j}]"
            else:
                yield from _locate(item, segs, i + 1, f"{path}[{j}]")
    elif seg == "*":
        if not isinstance(node, dict):
            return
        for key in list(node):
            if last:
                yield node, key, _join(path, key)
            else:
                yield from _locate(node[key], segs, i + 1, _join(path, key))
    elif isinstance(node, dict) and node.get(seg) is not None:
        if last:
            yield node, seg, _join(path, seg)
        else:
            yield from _locate(node[seg], segs, i + 1, _join(path, seg))


def deep_copy(value: Any) -> Any:
    """Copy dicts and lists (the datum's structure); scalars are immutable and shared."""
    if type(value) is dict:
        return {
            k: deep_copy(v) if type(v) is dict or type(v) is list else v for k, v in value.items()
        }
    if type(value) is list:
        return [deep_copy(v) if type(v) is dict or type(v) is list else v for v in value]
    return value
