"""Time as the router keeps it: microseconds since the Unix epoch (JSON-friendly integers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.events.jsonform import format_ts, parse_ts

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime; pass an aware UTC datetime")
    return (value - _EPOCH) // _US


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def text_us(text: str, path: str = "ts") -> int:
    """Microseconds of an RFC 3339 timestamp of the JSON form."""
    return to_us(parse_ts(text, path))


def us_text(value: int) -> str:
    return format_ts(from_us(value))
