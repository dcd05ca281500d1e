"""Incidents and the alerts they produce: one alert per rule, group and window, then updates.

Storm policy. The first trigger for a (rule, group) opens an *incident* for a window and emits
an alert (revision 0). Triggers inside the window update the incident (count, last event time,
samples) but emit an update — same ``dedup_key``, new ``alert_id``, higher ``count`` — only when

* the count reached ``update_factor`` x the count last emitted (default 2: 10, 20, 40, ...), or
* ``update_interval`` of event time (default 60 s) passed since the last emission and the count
  grew.

When the window closes with growth not yet emitted, one final update is emitted (the engine's
``flush``). A storm of N events therefore yields at most 1 + log2(N) + window/interval alerts
per group and window. A trigger after the window's end opens a new incident (new dedup_key).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.detect.model import RuleMeta
from pipeline.detect.state import GroupState, Incident, Sample
from pipeline.events.jsonform import format_ts
from pipeline.events.jsonform import parse_ts as _parse_ts

_NS = uuid.UUID("6f1c3f0e-6c5b-4a5e-9a53-2d4f0f7f6a10")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(kw_only=True)
class Trigger:
    """A rule's condition held for a group at ``ts``."""

    ts: int
    first_ts: int
    count: int
    window_start: int
    window_end: int
    samples: list[Sample]
    service: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    interval_us: int
    factor: float
    sample_size: int


def ts_us(text: str) -> int:
    """Microseconds since the epoch of a JSON-form timestamp."""
    return (_parse_ts(text, "ts") - _EPOCH) // _US


def us_ts(value: int) -> str:
    return format_ts(_EPOCH + timedelta(microseconds=value))


def merge_samples(into: list[Sample], new: list[Sample], limit: int) -> None:
    have = {s[0] for s in into}
    for s in new:
        if len(into) >= limit:
            return
        if s[0] not in have:
            into.append(s)
            have.add(s[0])


def on_trigger(state: GroupState, trig: Trigger, policy: Policy) -> bool:
    """Open or update the group's incident; True when an alert (or update) is due."""
    inc = state.inc
    if inc is None or trig.ts >= inc.end:
        samples: list[Sample] = []
        merge_samples(samples, trig.samples, policy.sample_size)
        state.inc = Incident(
            start=trig.window_start,
            end=trig.window_end,
            count=trig.count,
            first=trig.first_ts,
            last=trig.ts,
            samples=samples,
            service=trig.service,
            details=dict(trig.details),
            rev=0,
            sent=trig.count,
            sent_at=trig.ts,
        )
        return True
    inc.count = max(inc.count, trig.count)
    inc.first = min(inc.first, trig.first_ts)
    inc.last = max(inc.last, trig.ts)
    inc.details.update(trig.details)
    merge_samples(inc.samples, trig.samples, policy.sample_size)
    grown = inc.count > inc.sent
    due = inc.count >= inc.sent * policy.factor or (
        grown and trig.ts - inc.sent_at >= policy.interval_us
    )
    if due:
        mark_sent(inc, trig.ts)
    return bool(due)


def mark_sent(inc: Incident, ts: int) -> None:
    inc.rev += 1
    inc.sent = inc.count
    inc.sent_at = ts


def dedup_key(rule_id: str, group: dict[str, str], window_start: int) -> str:
    canon = "\x1f".join([rule_id, *(f"{k}={group[k]}" for k in sorted(group)), str(window_start)])
    return f"{rule_id}:{hashlib.sha256(canon.encode()).hexdigest()[:32]}"


def build_alert(meta: RuleMeta, group: dict[str, str], inc: Incident) -> dict[str, Any]:
    """The alert in the JSON form of schemas/alert.avsc."""
    key = dedup_key(meta.rule_id, group, inc.start)
    samples = inc.samples
    requests = list(dict.fromkeys(s[1] for s in samples if s[1]))
    traces = list(dict.fromkeys(s[2] for s in samples if s[2]))
    alert: dict[str, Any] = {
        "alert_id": str(uuid.uuid5(_NS, f"{key}#{inc.rev}")),
        "rule_id": meta.rule_id,
        "title": meta.title,
        "severity": meta.severity,
        # event time at which the engine raised it: deterministic in backtests
        "ts": us_ts(inc.sent_at),
        "group": dict(group),
        "count": inc.count,
        "window_start": us_ts(inc.start),
        "window_end": us_ts(inc.end),
        "first_event_ts": us_ts(inc.first),
        "last_event_ts": us_ts(inc.last),
        "sample_event_ids": [s[0] for s in samples],
        "request_ids": requests,
        "trace_ids": traces,
        "dedup_key": key,
        "tags": list(meta.tags),
        "details": {**inc.details, "revision": str(inc.rev)},
    }
    if meta.runbook:
        alert["runbook"] = meta.runbook
    if inc.service:
        alert["service"] = inc.service
    return alert
