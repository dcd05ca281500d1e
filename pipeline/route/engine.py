"""The router's core: ingest alerts, decide which receivers get what and when.

Driving it (the streaming stage, or ``auditpipe route`` offline)::

    router = Router(load_routing(path), state=saved_state_or_None)
    router.silences.put(silence)          # from the silences topic (delete on a tombstone)
    router.ingest(alert, now)             # each alert (JSON form of alert.avsc)
    for n in router.due(now):             # every second or so, and at router.next_due()
        deliver(n)
    save(router.state().encode())         # after due(); or take_changes() one key at a time

No wall clock is read: ``now`` is an aware datetime the caller passes. State is a
:class:`RouterState` (held alerts by ``dedup_key``, groups by key) that encodes to JSON records;
a router rebuilt from it sends nothing twice.
Silences and inhibition apply at flush time, so they act on alerts already grouped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.errors import StateRecordError
from pipeline.records import Fields, Record
from pipeline.route.config import RoutingConfig
from pipeline.route.grouping import (
    Group,
    Notification,
    build_notification,
    flush_reason,
    group_key,
    group_labels,
    new_group,
)
from pipeline.route.inhibit import InhibitIndex
from pipeline.route.silences import Silences
from pipeline.route.times import from_us, text_us, to_us
from pipeline.route.tree import RouteNode, all_nodes, compile_tree, match_routes

log = logging.getLogger(__name__)
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class HeldAlert:
    """An alert the router holds (for grouping, inhibition, resolution) until ``until`` (µs)."""

    alert: Mapping[str, Any]  # the payload: JSON form of alert.avsc
    until: int

    def encode(self) -> Record:
        return {"alert": dict(self.alert), "until": self.until}

    @classmethod
    def decode(cls, doc: object) -> HeldAlert:
        f = Fields(doc, "HeldAlert")
        return cls(alert=f.obj("alert"), until=f.integer("until"))


@dataclass(frozen=True)
class RouterState:
    """Everything a router needs to resume: held alerts by dedup key, groups by group key."""

    alerts: dict[str, HeldAlert] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    def encode(self) -> Record:
        """JSON types only: ``{"version": 1, "alerts": {...}, "groups": {...}}``."""
        return {
            "version": STATE_VERSION,
            "alerts": {k: v.encode() for k, v in self.alerts.items()},
            "groups": {k: g.encode() for k, g in self.groups.items()},
        }

    @classmethod
    def decode(cls, doc: object) -> RouterState:
        f = Fields(doc, "RouterState")
        version = f.raw("version")
        if version != STATE_VERSION:
            raise StateRecordError(f"router state version {version!r} is not {STATE_VERSION}")
        alerts = f.mapping("alerts", lambda v, _p: HeldAlert.decode(v))
        return cls(alerts=alerts, groups=f.mapping("groups", lambda v, _p: Group.decode(v)))


class Router:
    def __init__(
        self,
        config: RoutingConfig,
        state: RouterState | None = None,
        silences: Silences | None = None,
    ) -> None:
        self.config = config
        self.tree = compile_tree(config.route)
        self._routes: dict[str, RouteNode] = {n.id: n for n in all_nodes(self.tree)}
        self._resolve_us = config.resolve_timeout // timedelta(microseconds=1)
        self.silences = silences if silences is not None else Silences()
        self._alerts: dict[str, HeldAlert] = {}
        self._groups: dict[str, Group] = {}
        self._suppressed: list[tuple[str, str]] = []
        self._changed_alerts: set[str] = set()
        self._changed_groups: set[str] = set()
        self._inhibit_index: InhibitIndex | None = None  # cached for the span of one due()
        self._in_due = False
        if state is not None:
            self._alerts, self._groups = dict(state.alerts), dict(state.groups)

    # --- input ---------------------------------------------------------------------------

    def routes_for(self, alert: Mapping[str, Any]) -> list[RouteNode]:
        """The routes that take ``alert`` (for review tools)."""
        return match_routes(self.tree, alert)

    def ingest(self, alert: Mapping[str, Any], now: datetime) -> None:
        """Add or update one alert (JSON form of alert.avsc). An update of a known
        ``dedup_key`` with a lower count (a stale, out-of-order copy) is ignored."""
        now_us = to_us(now)
        key = str(alert["dedup_key"])
        held = self._alerts.get(key)
        if held is not None and int(alert["count"]) < int(held.alert["count"]):
            return
        end = alert.get("window_end") or alert["ts"]
        until = max(text_us(end, "window_end"), now_us) + self._resolve_us
        if held is not None:
            until = max(until, held.until)
        self._alerts[key] = HeldAlert(dict(alert), until)
        self._changed_alerts.add(key)
        for route in match_routes(self.tree, alert):
            labels = group_labels(route, alert)
            gkey = group_key(route, labels)
            group = self._groups.get(gkey)
            if group is None:
                group = self._groups[gkey] = new_group(route, labels, now_us)
                self._changed_groups.add(gkey)
            if key not in group.keys:
                group.keys.append(key)
                self._changed_groups.add(gkey)

    # --- output --------------------------------------------------------------------------

    def muted_by(self, alert: Mapping[str, Any], now: datetime) -> str | None:
        """Why ``alert`` is muted now (``silence:<id>`` or ``inhibited``), or None."""
        silence = self.silences.muting(alert, now)
        if silence is not None:
            return f"silence:{silence.id}"
        if not self.config.inhibit_rules:
            return None
        index = self._inhibit_index
        if index is None:
            active = (held.alert for held in self._alerts.values())
            index = InhibitIndex(self.config.inhibit_rules, active)
            if self._in_due:  # alerts do not change during due(): build it once
                self._inhibit_index = index
        if index.inhibited_by(alert) is not None:
            return "inhibited"
        return None

    def due(self, now: datetime) -> list[Notification]:
        """Expire alerts, flush the groups whose time has come; the notifications to send."""
        now_us = to_us(now)
        expired = {k: v.alert for k, v in self._alerts.items() if v.until <= now_us}
        for key in expired:
            del self._alerts[key]
        self._changed_alerts.update(expired)
        out: list[Notification] = []
        self._in_due = True
        try:
            self._due(out, expired, now, now_us)
        finally:
            self._in_due = False
            self._inhibit_index = None
        return out

    def _due(
        self,
        out: list[Notification],
        expired: dict[str, Mapping[str, Any]],
        now: datetime,
        now_us: int,
    ) -> None:
        for gkey in sorted(self._groups):
            group = self._groups[gkey]
            if expired and any(k in expired for k in group.keys):
                group.keys = [k for k in group.keys if k not in expired]
                self._changed_groups.add(gkey)
            if not group.keys:
                out.extend(self._resolve(gkey, group, expired, now_us))
                del self._groups[gkey]
                self._changed_groups.add(gkey)
                continue
            if group.next_flush > now_us:
                continue
            self._changed_groups.add(gkey)
            note = self._flush(gkey, group, now, now_us)
            if note is not None:
                out.append(note)

    def _flush(self, gkey: str, group: Group, now: datetime, now_us: int) -> Notification | None:
        route = self._routes.get(group.route)
        if route is None:  # the route left the config: finish the group with the root's timing
            route = self.tree
        shown = []
        muted = set(group.muted or ()) & set(group.keys)
        for k in group.keys:
            why = self.muted_by(self._alerts[k].alert, now)
            if why is None:
                shown.append(self._alerts[k].alert)
                muted.discard(k)
            elif k not in muted:  # counted once per alert and group while it stays muted
                muted.add(k)
                kind = "silenced" if why.startswith("silence:") else "inhibited"
                self._suppressed.append((group.receiver, kind))
        group.muted = sorted(muted)
        visible = {a["dedup_key"]: int(a["count"]) for a in shown}
        # alerts muted (or resolved) since the last notification are new again when they return
        group.sent = {k: c for k, c in group.sent.items() if k in visible}
        group.next_flush = now_us + route.group_interval_us
        reason = flush_reason(group, visible, now_us, route.repeat_interval_us)
        if reason is None:
            return None
        new_keys = [k for k in visible if k not in group.sent]
        group.sent = visible
        group.last_sent = now_us
        return build_notification(
            group,
            gkey,
            shown,
            status="firing",
            reason=reason,
            now_us=now_us,
            new_keys=new_keys,
            limit=self.config.max_alerts_per_notification,
        )

    def _resolve(
        self,
        gkey: str,
        group: Group,
        expired: Mapping[str, Mapping[str, Any]],
        now_us: int,
    ) -> list[Notification]:
        if not group.sent or not self._send_resolved(group.receiver):
            return []
        alerts = [expired[k] for k in group.sent if k in expired]
        return [
            build_notification(
                group,
                gkey,
                alerts,
                status="resolved",
                reason="resolved",
                now_us=now_us,
                new_keys=[],
                limit=self.config.max_alerts_per_notification,
            )
        ]

    def _send_resolved(self, receiver: str) -> bool:
        try:
            return self.config.receiver(receiver).send_resolved
        except KeyError:
            return False

    def next_due(self) -> datetime | None:
        """When ``due`` next has something to do (a flush or an expiry), if ever."""
        times = [g.next_flush for g in self._groups.values()]
        times += [a.until for a in self._alerts.values()]
        return from_us(min(times)) if times else None

    def take_suppressed(self) -> list[tuple[str, str]]:
        """(receiver, ``silenced``|``inhibited``) for each alert newly kept out of a group's
        notifications since the last call (for metrics)."""
        out, self._suppressed = self._suppressed, []
        return out

    # --- state ---------------------------------------------------------------------------

    @property
    def alert_count(self) -> int:
        return len(self._alerts)

    @property
    def group_count(self) -> int:
        return len(self._groups)

    def take_changes(self) -> tuple[dict[str, Record | None], dict[str, Record | None]]:
        """The alerts and groups changed since the last call, by key, encoded (None: deleted),
        so state can be saved one key at a time."""
        alerts = {k: self._encode_alert(k) for k in self._changed_alerts}
        groups = {k: self._encode_group(k) for k in self._changed_groups}
        self._changed_alerts, self._changed_groups = set(), set()
        return alerts, groups

    def mark_changed(self, alerts: Iterable[str], groups: Iterable[str]) -> None:
        """Count these alerts and groups as changed again (their write failed): the next
        ``take_changes`` returns them with their values then."""
        self._changed_alerts.update(alerts)
        self._changed_groups.update(groups)

    def _encode_alert(self, key: str) -> Record | None:
        held = self._alerts.get(key)
        return None if held is None else held.encode()

    def _encode_group(self, key: str) -> Record | None:
        group = self._groups.get(key)
        return None if group is None else group.encode()

    def state(self) -> RouterState:
        """A copy of the state, independent of this router's later changes."""
        return RouterState.decode(self.encode_state())

    def encode_state(self) -> Record:
        """Everything needed to resume, encoded (see :meth:`RouterState.encode`)."""
        return RouterState(self._alerts, self._groups).encode()
