"""Aggregation groups and the notifications they produce.

A group (:class:`Group`, Alertmanager's ``aggrGroup``) is one route's alerts that share the
values of the route's ``group_by`` labels. It encodes to a JSON record (:meth:`Group.encode`) so
it can live in the router's compacted state topic. Flush rules, as in Alertmanager:

* a new group waits ``group_wait`` before its first notification (to collect a storm);
* after each flush the next one is ``group_interval`` later; at a flush, the group notifies
  when it holds an alert (``dedup_key``) not in its last notification;
* otherwise it notifies again only when ``repeat_interval`` has passed since the last one;
* an update of an alert already sent (same ``dedup_key``, higher ``count``) refreshes what
  the next notification shows but does not by itself cause one: it is not a new page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.errors import StateRecordError
from pipeline.records import Fields, Record, as_int, as_obj, as_str
from pipeline.route.matchers import label_text
from pipeline.route.times import text_us, us_text
from pipeline.route.tree import RouteNode

Status = Literal["firing", "resolved"]
Reason = Literal["new", "repeat", "resolved"]
_STATUS: dict[str, Status] = {"firing": "firing", "resolved": "resolved"}
_REASON: dict[str, Reason] = {"new": "new", "repeat": "repeat", "resolved": "resolved"}
SEVERITY_ORDER = {"INFO": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
SAMPLE_LIMIT = 10


def group_labels(route: RouteNode, alert: Mapping[str, Any]) -> dict[str, str]:
    return {name: label_text(alert, name) for name in route.group_by}


def group_key(route: RouteNode, labels: Mapping[str, str]) -> str:
    """Alertmanager-like and stable: ``<route id>:{name="value",...}`` (names sorted)."""
    inner = ",".join(f"{k}={json.dumps(labels[k])}" for k in sorted(labels))
    return f"{route.id}:{{{inner}}}"


def group_dedup_key(receiver: str, key: str) -> str:
    """The PagerDuty-style incident key of a group at a receiver: one incident per group."""
    return "auditpipe:" + hashlib.sha256(f"{receiver}\x1f{key}".encode()).hexdigest()[:32]


@dataclass(slots=True, kw_only=True)
class Group:
    """One aggregation group. Times are µs since the epoch.

    ``keys``: the dedup keys of its alerts; ``sent``: dedup key -> count of its last
    notification (``last_sent``); ``muted``: its alerts muted at the last flush (counted once
    while they stay muted), None before the first flush (the record then has no ``muted``)."""

    route: str
    receiver: str
    labels: dict[str, str]
    created: int
    next_flush: int
    keys: list[str] = field(default_factory=list)
    last_sent: int | None = None
    sent: dict[str, int] = field(default_factory=dict)
    muted: list[str] | None = None

    def encode(self) -> Record:
        doc: Record = {
            "route": self.route,
            "receiver": self.receiver,
            "labels": dict(self.labels),
            "keys": list(self.keys),
            "created": self.created,
            "next_flush": self.next_flush,
            "last_sent": self.last_sent,
            "sent": dict(self.sent),
        }
        if self.muted is not None:
            doc["muted"] = list(self.muted)
        return doc

    @classmethod
    def decode(cls, doc: object) -> Group:
        f = Fields(doc, "Group")
        return cls(
            route=f.text("route"),
            receiver=f.text("receiver"),
            labels=f.mapping("labels", as_str),
            created=f.integer("created"),
            next_flush=f.integer("next_flush"),
            keys=f.items("keys", as_str),
            last_sent=f.opt_integer("last_sent"),
            sent=f.mapping("sent", as_int),
            muted=f.items("muted", as_str) if f.has("muted") else None,
        )


def new_group(route: RouteNode, labels: dict[str, str], now_us: int) -> Group:
    return Group(
        route=route.id,
        receiver=route.receiver,
        labels=labels,
        created=now_us,
        next_flush=now_us + route.group_wait_us,
    )


def flush_reason(
    group: Group, visible: Mapping[str, int], now_us: int, repeat_us: int
) -> Reason | None:
    """Whether a due group notifies, given its unmuted alerts (dedup_key -> count)."""
    if not visible:
        return None
    if any(k not in group.sent for k in visible):
        return "new"
    last = group.last_sent
    if last is None or now_us - last >= repeat_us:
        return "repeat"
    return None


@dataclass(frozen=True, kw_only=True)
class Notification:
    """What one receiver gets for one group at one flush; its record is the router's outbox
    entry (:meth:`encode`), kept until delivery finished."""

    id: str
    receiver: str
    route: str
    group_key: str
    group_labels: dict[str, str]
    status: Status
    reason: Reason
    ts: str
    dedup_key: str
    severity: str
    alerts: list[Mapping[str, Any]]  # alert payloads (JSON form of alert.avsc)
    alert_count: int
    event_count: int
    new_keys: list[str]
    first_event_ts: str
    last_event_ts: str
    sample_event_ids: list[str]
    runbooks: list[str]

    @property
    def title(self) -> str:
        first = self.alerts[0]["title"] if self.alerts else self.group_key
        more = f" (+{self.alert_count - 1} more)" if self.alert_count > 1 else ""
        return f"[{self.status.upper()}] {self.severity} {first}{more}"

    def encode(self) -> Record:
        return {
            "id": self.id,
            "receiver": self.receiver,
            "route": self.route,
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "status": self.status,
            "reason": self.reason,
            "ts": self.ts,
            "dedup_key": self.dedup_key,
            "severity": self.severity,
            "alerts": [dict(a) for a in self.alerts],
            "alert_count": self.alert_count,
            "event_count": self.event_count,
            "new_keys": list(self.new_keys),
            "first_event_ts": self.first_event_ts,
            "last_event_ts": self.last_event_ts,
            "sample_event_ids": list(self.sample_event_ids),
            "runbooks": list(self.runbooks),
        }

    @classmethod
    def decode(cls, doc: object) -> Notification:
        f = Fields(doc, "Notification")
        status, reason = _STATUS.get(f.text("status")), _REASON.get(f.text("reason"))
        if status is None:
            raise StateRecordError(f"Notification.status: unknown value {f.raw('status')!r}")
        if reason is None:
            raise StateRecordError(f"Notification.reason: unknown value {f.raw('reason')!r}")
        return cls(
            id=f.text("id"),
            receiver=f.text("receiver"),
            route=f.text("route"),
            group_key=f.text("group_key"),
            group_labels=f.mapping("group_labels", as_str),
            status=status,
            reason=reason,
            ts=f.text("ts"),
            dedup_key=f.text("dedup_key"),
            severity=f.text("severity"),
            alerts=f.items("alerts", as_obj),
            alert_count=f.integer("alert_count"),
            event_count=f.integer("event_count"),
            new_keys=f.items("new_keys", as_str),
            first_event_ts=f.text("first_event_ts"),
            last_event_ts=f.text("last_event_ts"),
            sample_event_ids=f.items("sample_event_ids", as_str),
            runbooks=f.items("runbooks", as_str),
        )


def build_notification(
    group: Group,
    key: str,
    alerts: Sequence[Mapping[str, Any]],
    *,
    status: Status,
    reason: Reason,
    now_us: int,
    new_keys: Sequence[str],
    limit: int,
) -> Notification:
    """A notification for ``alerts`` (all of the group's shown alerts; capped to ``limit``)."""
    ordered = sorted(
        alerts, key=lambda a: (-SEVERITY_ORDER.get(a["severity"], 0), a["ts"], a["dedup_key"])
    )
    samples: list[str] = []
    for alert in ordered:
        for sid in alert.get("sample_event_ids") or []:
            if len(samples) < SAMPLE_LIMIT and sid not in samples:
                samples.append(sid)
    runbooks = list(dict.fromkeys(a["runbook"] for a in ordered if a.get("runbook")))
    firsts = [text_us(a["first_event_ts"], "first_event_ts") for a in ordered]
    lasts = [text_us(a["last_event_ts"], "last_event_ts") for a in ordered]
    dedup = group_dedup_key(group.receiver, key)
    return Notification(
        id=hashlib.sha256(f"{dedup}\x1f{now_us}\x1f{status}".encode()).hexdigest()[:32],
        receiver=group.receiver,
        route=group.route,
        group_key=key,
        group_labels=dict(group.labels),
        status=status,
        reason=reason,
        ts=us_text(now_us),
        dedup_key=dedup,
        severity=ordered[0]["severity"] if ordered else "INFO",
        alerts=[dict(a) for a in ordered[:limit]],
        alert_count=len(ordered),
        event_count=sum(int(a["count"]) for a in ordered),
        new_keys=sorted(new_keys),
        first_event_ts=us_text(min(firsts)) if firsts else us_text(now_us),
        last_event_ts=us_text(max(lasts)) if lasts else us_text(now_us),
        sample_event_ids=samples,
        runbooks=runbooks,
    )
