"""Clock skew per service: the gap between an event's ``ts`` and the time it was received, and a
SYSTEM alert when a service's clock drifts past ``skew_ahead_s`` / ``skew_behind_s``.

Receive time: the broker's append time when the raw topic stamps records itself
(``message.timestamp.type=LogAppendTime``: the broker's clock, no consumer lag in it), else the
sanitizer's clock when it handles the record. A producer's own record timestamp (CreateTime)
is never used: it comes from the same clock as ``ts``.

The gap is ``received - ts`` (positive: the event is older than it should be, the service's
clock is behind; negative: ahead). Per service and window of ``skew_window_s`` (aligned to the
epoch) the watch keeps the smallest and largest gap. The skew of the window is the smallest gap
when every gap is positive, the largest when every gap is negative, else 0: one event sent on
time shows the clock is fine, so queueing delay and a slow event do not make a skew, while a
clock that is really off moves every event of the window. Once a window has
``skew_min_events`` events and its skew is past the threshold, one alert is raised for that
service and window (``rule_id`` ``system.clock_skew``); its ``alert_id`` and ``dedup_key`` are
derived from the service and the window start alone, so a worker restarted mid-window, or
several workers seeing the same service, raise the same alert and the router keeps one.

A gap beyond ``skew_max_s`` (a day) is not a drifting clock but old data: a replay, a spool
emptied after an outage, fixed-date test data. It raises no alert (the metric still shows it);
``ts_past``/``ts_future`` dead-letter the far cases.

Caveat: when the raw topic has no append time and the sanitizer itself lags past the
threshold (a backlog after an outage), every service looks behind; the alert's details say
which way, and the DLQ/lag alerts of the pipeline tell the two apart.

Bounded: at most ``skew_max_services`` services are tracked at once (the least recently seen
goes first). The metric ``auditpipe_sanitizer_clock_skew_seconds`` is labelled by service only
for services of the service catalog (``rules/services.yaml``), all others under ``other``: the
``service`` field is the producer's text, and a metric label must neither grow without bound
nor ever hold personal data.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge

from pipeline.settings import SanitizerConfig

RULE_ID = "system.clock_skew"
RUNBOOK = "docs/runbooks/detection/system.clock_skew.md"
OTHER = "other"
SAMPLES = 5
_NS = uuid.UUID("0b6f3c1e-5d1a-4c8e-9f61-7a2e4b9d3c55")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Window:
    start: int  # window index: epoch seconds // window
    first_ts: datetime
    last_ts: datetime
    count: int = 0
    min_gap: float = float("inf")
    max_gap: float = float("-inf")
    samples: list[tuple[str, str, str | None]] = field(default_factory=list)
    alerted: bool = False

    @property
    def skew(self) -> float:
        if self.min_gap > 0:
            return self.min_gap
        if self.max_gap < 0:
            return self.max_gap
        return 0.0


class SkewWatch:
    """Feed it every accepted event (``observe``); it returns an alert (Avro datum of
    ``schemas/alert.avsc``) when one is due, else None."""

    def __init__(
        self,
        config: SanitizerConfig,
        known_services: frozenset[str],
        gauge: Gauge | None = None,
        alerts: Counter | None = None,
    ) -> None:
        self.config = config
        self.known = known_services
        self._gauge = gauge
        self._alerts = alerts
        self._windows: dict[str, _Window] = {}
        self.raised = 0

    def label(self, service: str) -> str:
        return service if service in self.known else OTHER

    def observe(self, event: dict[str, Any], received: datetime) -> dict[str, Any] | None:
        service, ts = str(event["service"]), event["ts"]
        gap = (received - ts).total_seconds()
        index = int((received - _EPOCH).total_seconds() // self.config.skew_window_s)
        win = self._windows.pop(service, None)
        if win is None or win.start != index:
            win = _Window(index, ts, ts)
            while len(self._windows) >= self.config.skew_max_services:
                del self._windows[next(iter(self._windows))]
        self._windows[service] = win  # most recently seen last
        win.count += 1
        win.min_gap, win.max_gap = min(win.min_gap, gap), max(win.max_gap, gap)
        win.first_ts, win.last_ts = min(win.first_ts, ts), max(win.last_ts, ts)
        if len(win.samples) < SAMPLES:
            win.samples.append((event["event_id"], event["request_id"], event.get("trace_id")))
        skew = win.skew
        if self._gauge is not None:
            self._gauge.labels(self.label(service)).set(skew)
        if (
            win.alerted
            or win.count < self.config.skew_min_events
            or not self._limit(skew) < abs(skew) <= self.config.skew_max_s
        ):
            return None
        win.alerted = True
        self.raised += 1
        if self._alerts is not None:
            self._alerts.inc()
        return self._alert(service, win, skew, received)

    def _limit(self, skew: float) -> float:
        c = self.config
        return c.skew_behind_s if skew > 0 else c.skew_ahead_s

    def _alert(self, service: str, win: _Window, skew: float, now: datetime) -> dict[str, Any]:
        span = self.config.skew_window_s
        start = _EPOCH + timedelta(seconds=win.start * span)
        canon = f"{RULE_ID}\x1fservice={service}\x1f{int(win.start * span)}"
        key = f"{RULE_ID}:{hashlib.sha256(canon.encode()).hexdigest()[:32]}"
        direction = "behind" if skew > 0 else "ahead"
        return {
            "alert_id": str(uuid.uuid5(_NS, key)),
            "rule_id": RULE_ID,
            "title": f"Clock skew: a service's event times are {direction} of the pipeline's clock",
            "severity": "MEDIUM",
            "ts": now,
            "group": {"service": service},
            "count": win.count,
            "window_start": start,
            "window_end": start + timedelta(seconds=span),
            "first_event_ts": win.first_ts,
            "last_event_ts": win.last_ts,
            "sample_event_ids": [s[0] for s in win.samples],
            "request_ids": list(dict.fromkeys(s[1] for s in win.samples if s[1])),
            "trace_ids": list(dict.fromkeys(s[2] for s in win.samples if s[2])),
            "dedup_key": key,
            "runbook": RUNBOOK,
            "tags": ["system", "clock-skew"],
            "service": service,
            "team": None,
            "details": {
                "category": "SYSTEM",
                "direction": direction,
                "skew_s": f"{abs(skew):.3f}",
                "threshold_s": f"{self._limit(skew):g}",
                "receive_clock": "broker append time, else the sanitizer's clock",
            },
        }
