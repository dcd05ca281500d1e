from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import ConfigError
from pipeline.replay.window import parse_time, window

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_times() -> None:
    assert parse_time("now", "--from", NOW) == NOW
    assert parse_time("-15m", "--from", NOW) == NOW - timedelta(minutes=15)
    assert parse_time("-2h", "--from", NOW) == NOW - timedelta(hours=2)
    assert parse_time("-7d", "--from", NOW) == NOW - timedelta(days=7)
    assert parse_time("2026-11-01T10:00:00+02:00", "--from") == datetime(2026, 11, 1, 8, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--to"):
        parse_time("yesterday", "--to", NOW)
    with pytest.raises(ConfigError, match="UTC offset"):
        parse_time("2026-11-01T10:00:00", "--from", NOW)


def test_window_is_half_open() -> None:
    w = window("-1h", "now", NOW)
    assert w.contains(NOW - timedelta(hours=1))
    assert not w.contains(NOW)
    assert w.overlaps(NOW - timedelta(hours=3), NOW - timedelta(hours=1))
    assert not w.overlaps(NOW, NOW + timedelta(hours=1))
    assert window("-1h", None, NOW).contains(NOW + timedelta(days=1))
    with pytest.raises(ConfigError, match="later"):
        window("now", "-1h", NOW)
