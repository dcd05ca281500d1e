"""Alerts and routing files for the router tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.events.jsonform import format_ts
from pipeline.route.config import RoutingConfig, load_routing

T0 = datetime(2026, 11, 1, 10, 0, 0, tzinfo=UTC)
_ids = itertools.count()

BASIC = """
route:
  receiver: feed
  group_by: [rule_id]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - {name: feed, type: kafka}
"""


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alert(seconds: float = 0, **over: Any) -> dict[str, Any]:
    """A valid alert (JSON form of alert.avsc) raised at T0 + ``seconds``."""
    n = next(_ids)
    ts = format_ts(at(seconds))
    doc: dict[str, Any] = {
        "alert_id": f"a-{n}",
        "rule_id": "auth.bruteforce_success",
        "title": "Brute force followed by a successful login",
        "severity": "HIGH",
        "ts": ts,
        "group": {"actor.id": "u1"},
        "count": 10,
        "window_start": ts,
        "window_end": format_ts(at(seconds + 600)),
        "first_event_ts": ts,
        "last_event_ts": ts,
        "sample_event_ids": [f"ev-{n}"],
        "dedup_key": f"auth.bruteforce_success:{n}",
        "runbook": "https://runbooks.auditpipe.dev/auth.bruteforce_success",
        "tags": ["attack.t1110", "attack.t1078"],
    }
    doc.update(over)
    return doc


def routing(tmp_path: Path, text: str = BASIC) -> RoutingConfig:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return load_routing(path)
