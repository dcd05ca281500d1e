"""Strict reading of the JSON records that state types encode to (router state topic, detector
changelog): typed getters that raise :class:`~pipeline.errors.StateRecordError` naming the type
and the field, never a ``KeyError`` or a ``TypeError`` from deep inside the code that uses it.

Encoding needs no helper: each state type builds its record (JSON types only) itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pipeline.errors import StateRecordError

T = TypeVar("T")

#: an encoded record: JSON types only (str, int, float, bool, None, list, dict; a tuple is an
#: array too: records share immutable tuples instead of copying them into lists)
Record = dict[str, object]


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Fields:
    """The fields of one JSON object being decoded into ``what`` (a type name, for errors)."""

    __slots__ = ("doc", "what")

    def __init__(self, doc: object, what: str) -> None:
        if not isinstance(doc, dict):
            raise StateRecordError(f"{what}: expected a JSON object, got {_kind(doc)}")
        self.doc: dict[str, object] = doc
        self.what = what

    def has(self, name: str) -> bool:
        return name in self.doc

    def raw(self, name: str) -> object:
        """A required field, of any JSON type."""
        try:
            return self.doc[name]
        except KeyError:
            raise StateRecordError(f"{self.what}: missing field {name!r}") from None

    def integer(self, name: str) -> int:
        return as_int(self.raw(name), f"{self.what}.{name}")

    def opt_integer(self, name: str) -> int | None:
        value = self.doc.get(name)
        return None if value is None else as_int(value, f"{self.what}.{name}")

    def number(self, name: str) -> float:
        return as_float(self.raw(name), f"{self.what}.{name}")

    def opt_number(self, name: str) -> float | None:
        value = self.doc.get(name)
        return None if value is None else as_float(value, f"{self.what}.{name}")

    def text(self, name: str) -> str:
        return as_str(self.raw(name), f"{self.what}.{name}")

    def opt_text(self, name: str) -> str | None:
        value = self.doc.get(name)
        return None if value is None else as_str(value, f"{self.what}.{name}")

    def items(self, name: str, item: Callable[[object, str], T]) -> list[T]:
        return as_list(self.raw(name), f"{self.what}.{name}", item)

    def mapping(self, name: str, item: Callable[[object, str], T]) -> dict[str, T]:
        return as_map(self.raw(name), f"{self.what}.{name}", item)

    def obj(self, name: str) -> dict[str, object]:
        return as_obj(self.raw(name), f"{self.what}.{name}")


def as_int(value: object, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise StateRecordError(f"{path}: expected an integer, got {_kind(value)}")


def as_float(value: object, path: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise StateRecordError(f"{path}: expected a number, got {_kind(value)}")


def as_str(value: object, path: str) -> str:
    if isinstance(value, str):
        return value
    raise StateRecordError(f"{path}: expected a string, got {_kind(value)}")


def as_list(value: object, path: str, item: Callable[[object, str], T]) -> list[T]:
    if not isinstance(value, list):
        raise StateRecordError(f"{path}: expected a list, got {_kind(value)}")
    return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]


def as_map(value: object, path: str, item: Callable[[object, str], T]) -> dict[str, T]:
    if not isinstance(value, dict):
        raise StateRecordError(f"{path}: expected a JSON object, got {_kind(value)}")
    return {as_str(k, path): item(v, f"{path}.{k}") for k, v in value.items()}


def as_obj(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise StateRecordError(f"{path}: expected a JSON object, got {_kind(value)}")
    return value


def as_tuple(value: object, path: str, length: int) -> tuple[object, ...]:
    """A JSON array of exactly ``length`` items (a list, or a tuple before serialization)."""
    if not isinstance(value, list | tuple) or len(value) != length:
        raise StateRecordError(f"{path}: expected a list of {length}, got {_kind(value)}")
    return tuple(value)
