"""The demo's incidents each fall inside what their rule counts (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.demo.incidents import incidents
from pipeline.events.jsonform import parse_ts


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 12, 6, 14, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 6, 14, 58, 20, tzinfo=UTC),  # ends exactly at the hour
        datetime(2026, 12, 6, 14, 59, 10, tzinfo=UTC),  # would be 200 + 200 across 15:00
        datetime(2026, 12, 6, 14, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 6, 23, 59, 30, tzinfo=UTC),  # across midnight too
    ],
)
def test_the_decrypt_spike_stays_in_one_clock_hour(start: datetime) -> None:
    kms = [parse_ts(d["ts"], "ts") for d in incidents("t", start) if d["action"] == "key.decrypt"]
    assert len(kms) == 400
    hours = {t.replace(minute=0, second=0, microsecond=0) for t in kms}
    assert len(hours) == 1
    assert start - timedelta(seconds=100) <= min(kms) <= start  # moved back, never forward
