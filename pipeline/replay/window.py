"""The time window of a replay: ``[from, to)`` on the events' own ``ts`` (UTC).

Both sources select by the event's ``ts``, so a window replayed from Kafka and from the archive
holds the same events. Times are RFC 3339 (``2026-11-01T10:00:00Z``), ``now``, or relative to
now: ``-15m``, ``-2h``, ``-7d``, ``-30s``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.errors import ConfigError, InvalidEventError
from pipeline.events.jsonform import format_ts, parse_ts

_RELATIVE = re.compile(r"^-(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, option: str, now: datetime | None = None) -> datetime:
    """An option's time value, as an aware UTC datetime."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if value.lower() == "now":
        return now
    m = _RELATIVE.match(value)
    if m is not None:
        return now - timedelta(**{_UNITS[m[2]]: int(m[1])})
    try:
        return parse_ts(value, option)
    except InvalidEventError as exc:
        raise ConfigError(f"{option}: {exc.reason}; or 'now', '-15m', '-2h', '-7d'") from None


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime | None  # None: up to the end offsets taken at start (Kafka only)

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise ConfigError("--to must be later than --from")

    def contains(self, ts: datetime) -> bool:
        return ts >= self.start and (self.end is None or ts < self.end)

    def overlaps(self, lo: datetime, hi: datetime) -> bool:
        """Whether events with times in ``[lo, hi]`` may fall in the window."""
        return hi >= self.start and (self.end is None or lo < self.end)

    def __str__(self) -> str:
        end = format_ts(self.end) if self.end is not None else "end offsets at start"
        return f"[{format_ts(self.start)}, {end})"


def window(from_: str, to: str | None, now: datetime | None = None) -> Window:
    now = now or datetime.now(UTC)
    return Window(
        parse_time(from_, "--from", now), parse_time(to, "--to", now) if to is not None else None
    )
