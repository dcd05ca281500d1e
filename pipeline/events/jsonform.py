"""The JSON form of events: natural JSON objects validated and converted against a schema.

Avro's own JSON encoding wraps unions (``{"string": "x"}``), which no person or service writes.
Our JSON form is the natural one, the same for every command that reads or writes JSON Lines:
nested objects, timestamps as RFC 3339 UTC strings with microseconds
(``2026-11-01T10:00:00.123456Z``), enums as their symbols, optional fields omitted or null.

``from_json`` validates while it converts and raises ``InvalidEventError`` naming the field path
and the reason, never the offending value (it may be personal data, and error messages reach
logs and the DLQ's reason); ``to_json`` is its inverse. Written by hand because no library
converts the natural form with path-precise errors; it walks fastavro's expanded schema, so it
follows any schema in ``schemas/``.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.errors import InvalidEventError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def format_ts(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z`` (the year always four digits: strftime
    writes year 1 as ``1``, which no RFC 3339 parser reads back)."""
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}Z"
    )


def input_key(key: str) -> str:
    """How an error names a key taken from the input (a map key, an unknown field): ``#`` and
    8 hex digits of its SHA-256, never the key itself (it may be an email address or a secret).
    The producer finds it with the same hash of their own keys."""
    return "#" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def parse_ts(value: str, path: str) -> datetime:
    if not isinstance(value, str):  # callers may hand over unvalidated JSON (detect, route)
        raise InvalidEventError(f"{path}: expected an RFC 3339 string, got {_describe(value)}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEventError(
            f"{path}: not an RFC 3339 timestamp (e.g. 2026-11-01T10:00:00.123456Z)"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidEventError(f"{path}: timestamp has no UTC offset; add 'Z'")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last representable time
        raise InvalidEventError(f"{path}: timestamp out of range in UTC") from None


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema["type"])


def _logical(schema: Any) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def _describe(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# --- JSON -> Avro datum --------------------------------------------------------------------


def from_json_value(schema: Any, value: Any, path: str) -> Any:
    """Convert one JSON value to its Avro datum, or raise InvalidEventError at ``path``."""
    kind = _type_name(schema)
    if kind == "union":
        branches = schema
        if value is None:
            if "null" in branches:
                return None
            raise InvalidEventError(f"{path}: is required (got null)")
        errors = []
        for branch in branches:
            if branch == "null":
                continue
            try:
                return from_json_value(branch, value, path)
            except InvalidEventError as exc:
                errors.append(str(exc))
        raise InvalidEventError(errors[0] if len(errors) == 1 else f"{path}: matches no type")
    if kind == "record":
        if value is None:
            raise InvalidEventError(f"{path}: is required (got null)")
        return _record_from_json(schema, value, path)
    if kind == "null":
        if value is not None:
            raise InvalidEventError(f"{path}: must be null")
        return None
    if value is None:
        raise InvalidEventError(f"{path}: is required (got null)")
    logical = _logical(schema)
    if kind == "long" and logical in ("timestamp-micros", "timestamp-millis"):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise InvalidEventError(f"{path}: datetime has no timezone; use UTC")
            return value.astimezone(UTC)
        if not isinstance(value, str):
            raise InvalidEventError(f"{path}: expected an RFC 3339 string, got {_describe(value)}")
        return parse_ts(value, path)
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidEventError(f"{path}: expected a string, got {_describe(value)}")
        return value
    if kind in ("int", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidEventError(f"{path}: expected an integer, got {_describe(value)}")
        lo, hi = _INT32 if kind == "int" else _INT64
        if not lo <= value <= hi:
            raise InvalidEventError(f"{path}: out of range for {kind}")
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidEventError(f"{path}: expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise InvalidEventError(f"{path}: must be a finite number")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidEventError(f"{path}: expected true or false, got {_describe(value)}")
        return value
    if kind == "enum":
        symbols = schema["symbols"]
        if not isinstance(value, str) or value not in symbols:
            raise InvalidEventError(f"{path}: must be one of {', '.join(symbols)}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise InvalidEventError(f"{path}: expected a list, got {_describe(value)}")
        return [from_json_value(schema["items"], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise InvalidEventError(f"{path}: expected an object, got {_describe(value)}")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidEventError(f"{path}: map keys must be strings")
            out[k] = from_json_value(schema["values"], v, f"{path}[{input_key(k)}]")
        return out
    if kind == "bytes":
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            raise InvalidEventError(f"{path}: expected bytes as a string, got {_describe(value)}")
        return value.encode("latin-1")
    raise InvalidEventError(f"{path}: unsupported schema type {kind}")


def _record_from_json(schema: dict[str, Any], value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        where = path or schema["name"]
        raise InvalidEventError(f"{where}: expected an object, got {_describe(value)}")
    known = {f["name"] for f in schema["fields"]}
    unknown = sorted(set(value) - known)
    if unknown:
        where = f"{path}.{input_key(unknown[0])}" if path else input_key(unknown[0])
        raise InvalidEventError(
            f"{where}: unknown field (not in schema {schema['name']}; the key's SHA-256 prefix)"
        )
    out: dict[str, Any] = {}
    for field in schema["fields"]:
        name = field["name"]
        fpath = f"{path}.{name}" if path else name
        if name in value:
            out[name] = from_json_value(field["type"], value[name], fpath)
        elif "default" in field:
            default = field["default"]
            out[name] = (
                list(default)
                if isinstance(default, list)
                else (dict(default) if isinstance(default, dict) else default)
            )
        else:
            raise InvalidEventError(f"{fpath}: is required")
    return out


def from_json(schema: dict[str, Any], doc: Any) -> dict[str, Any]:
    """Validate a JSON object against a record schema and return the Avro datum."""
    return _record_from_json(schema, doc, "")


def loads(schema: dict[str, Any], line: bytes | str) -> dict[str, Any]:
    """Parse one JSON Lines line into a validated datum. A key given twice in one object is
    an error (JSON parsers keep the last one quietly, so ``{"service": "<an email>",
    "service": "billing"}`` would mean one thing to us and another to another reader)."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError(f"not valid JSON: {exc}") from None
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if len(_KEY.findall(raw)) != _keys_in(doc):
        raise InvalidEventError("a key appears twice in one JSON object; each key may appear once")
    return from_json(schema, doc)


#: a JSON string followed by ``:`` is an object's key; strings are matched whole from the
#: first quote on (outside strings JSON has no quotes), so one pass counts every key
_KEY = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:', re.DOTALL)


def _keys_in(value: Any) -> int:
    """How many keys the parsed objects hold (a duplicate collapsed into one)."""
    count = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            count += len(node)
            stack.extend(v for v in node.values() if type(v) is dict or type(v) is list)
        elif type(node) is list:
            stack.extend(v for v in node if type(v) is dict or type(v) is list)
    return count


# --- Avro datum -> JSON --------------------------------------------------------------------


def to_json_value(schema: Any, value: Any) -> Any:
    kind = _type_name(schema)
    if value is None:
        return None
    if kind == "union":
        for branch in schema:
            if branch != "null" and _matches(branch, value):
                return to_json_value(branch, value)
        return value
    if kind == "record":
        return to_json(schema, value)
    logical = _logical(schema)
    if kind == "long" and logical in ("timestamp-micros", "timestamp-millis"):
        if isinstance(value, int):
            unit = 1 if logical == "timestamp-micros" else 1000
            value = _EPOCH + timedelta(microseconds=value * unit)
        return format_ts(value)
    if kind == "array":
        return [to_json_value(schema["items"], v) for v in value]
    if kind == "map":
        return {k: to_json_value(schema["values"], v) for k, v in value.items()}
    if kind == "bytes" and isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _matches(schema: Any, value: Any) -> bool:
    kind = _type_name(schema)
    if kind == "record":
        return isinstance(value, dict)
    if kind == "map":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind in ("string", "enum"):
        return isinstance(value, str)
    if kind == "long" and _logical(schema):
        return isinstance(value, datetime | int)
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, float | int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "bytes":
        return isinstance(value, bytes)
    return False


def to_json(schema: dict[str, Any], datum: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a record datum; null optional fields are omitted."""
    out: dict[str, Any] = {}
    for field in schema["fields"]:
        name = field["name"]
        converted = to_json_value(field["type"], datum.get(name))
        if converted is not None:
            out[name] = converted
    return out


def dumps(schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
    """One JSON Lines line (no newline)."""
    return orjson.dumps(to_json(schema, datum))
