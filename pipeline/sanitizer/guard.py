"""Checks of a decoded raw event before any work is spent on it: bounded size, no NUL, required
identifiers present, a plausible ``ts``, a key. Each failure raises ``InvalidEventError`` whose
reason starts with its code (``pipeline.events.dlq.Reason``) and names the place by schema
field names and positions, never by the producer's map keys or values.

The raw value's size is checked before decoding (``check_size``), so the decoder and scrubber
never see more than ``max_event_bytes``; inside it, no string may be longer than
``max_field_bytes`` (the scrubber's cost per field is bounded by it) and no map or list may hold
more than ``max_entries`` entries. One walk over the datum does all of it: the datum has the
event schema's shape, so the walk is shallow (maps and lists hold strings only).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from pipeline.errors import InvalidEventError
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.settings import SanitizerConfig

REQUIRED = ("event_id", "service", "action")  # may not be empty: dedup, routing, rules need them


def _field_names(schema: Any, into: set[str]) -> set[str]:
    if isinstance(schema, list):
        for branch in schema:
            _field_names(branch, into)
    elif isinstance(schema, dict):
        for field in schema.get("fields", []):
            into.add(field["name"])
            _field_names(field["type"], into)
        for part in ("items", "values"):
            if part in schema:
                _field_names(schema[part], into)
    return into


class Guard:
    """The checks, compiled from the limits once per worker."""

    def __init__(self, limits: SanitizerConfig) -> None:
        self.limits = limits
        self._names = frozenset(_field_names(parsed_schema(AUDIT_EVENT), set()))
        self._future = timedelta(seconds=limits.max_future_s)
        self._age = timedelta(seconds=limits.max_age_s)
        self._quarter = limits.max_field_bytes // 4  # UTF-8: at most 4 bytes a character
        self._small = min(limits.max_field_bytes, limits.max_entries)

    def check_size(self, raw: bytes) -> None:
        if len(raw) > self.limits.max_event_bytes:
            raise InvalidEventError(
                f"oversize_event: {len(raw)} bytes, the limit is {self.limits.max_event_bytes}"
            )

    def check_event(self, datum: dict[str, Any], now: datetime, size: int) -> None:
        """``size``: of the raw value the datum was decoded from."""
        self._walk(datum, size)
        for name in REQUIRED:
            if not datum.get(name):
                raise InvalidEventError(f"missing_field: {name}: must not be empty")
        ts = datum.get("ts")
        if isinstance(ts, datetime):
            if ts > now + self._future:
                raise InvalidEventError(
                    f"ts_future: ts is more than {self.limits.max_future_s:g} s ahead of the "
                    "sanitizer's clock"
                )
            if ts < now - self._age:
                raise InvalidEventError(
                    f"ts_past: ts is more than {self.limits.max_age_s:g} s behind the "
                    "sanitizer's clock"
                )

    def _walk(self, datum: dict[str, Any], size: int) -> None:
        """A quick pass that builds no paths; only when it finds a suspect does the second
        pass name the place (a long string may still be within the limit in bytes).

        Most events are small, and a small value cannot hold a long string (a string's bytes
        are in the value) nor a map or list of many entries (each takes at least one byte):
        for those, one C call (orjson, which writes U+0000 as ``\\u0000``) looks for NUL."""
        if size <= self._small:
            try:
                suspect = b"\\u0000" in orjson.dumps(datum)
            except orjson.JSONEncodeError:  # a type orjson does not write: the slow pass
                suspect = self._suspect(datum)
        else:
            suspect = self._suspect(datum)
        if suspect:
            self._locate(datum)

    def _suspect(self, value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return "\x00" in value or len(value) > self._quarter
        if kind is dict:
            if len(value) > self.limits.max_entries:
                return True
            for key, item in value.items():
                if "\x00" in key or len(key) > self._quarter or self._suspect(item):
                    return True
            return False
        if kind is list:
            return len(value) > self.limits.max_entries or any(self._suspect(v) for v in value)
        return False

    def _locate(self, datum: dict[str, Any]) -> None:
        limit, entries = self.limits.max_field_bytes, self.limits.max_entries
        stack: list[tuple[Any, str]] = [(datum, "")]
        while stack:
            value, path = stack.pop()
            if isinstance(value, str):
                self._string(value, path, limit)
            elif isinstance(value, dict):
                if len(value) > entries and path:
                    raise InvalidEventError(
                        f"too_many_entries: {path}: {len(value)} entries, the limit is {entries}"
                    )
                for i, (key, item) in enumerate(value.items()):
                    if key in self._names:
                        where = f"{path}.{key}" if path else key
                    else:  # a map key is the producer's text: its position only
                        where = f"{path}[{i}]"
                        self._string(key, f"{where} (key)", limit)
                    stack.append((item, where))
            elif isinstance(value, list):
                if len(value) > entries:
                    raise InvalidEventError(
                        f"too_many_entries: {path}: {len(value)} entries, the limit is {entries}"
                    )
                stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))

    @staticmethod
    def _string(text: str, path: str, limit: int) -> None:
        if "\x00" in text:
            raise InvalidEventError(f"nul_byte: {path}: holds a NUL character")
        if len(text) * 4 > limit:  # UTF-8 takes at most 4 bytes a character
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > limit:
                raise InvalidEventError(
                    f"oversize_field: {path}: {size} bytes, the limit is {limit}"
                )
