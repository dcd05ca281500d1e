"""The router's core: ingest alerts, decide which receivers get what and when.

Driving it (the streaming stage, or ``auditpipe route`` offline)::

    router = Router(load_routing(path), state=saved_state_or_None)
    router.silences.put(silence)          # from the silences topic (delete on a tombstone)
    router.ingest(alert, now)             # each alert (JSON form of alert.avsc)
    for n in router.due(now):             # every second or so, and at router.next_due()
        deliver(n)
    save(router.state_to_json())          # after due(); a changelog-backed table

No wall clock is read: ``now`` is an aware datetime the caller passes. State is a JSON object
(alerts by ``dedup_key``, groups by key); a router rebuilt from it sends nothing twice.
Silences and inhibition apply at flush time, so they act on alerts already grouped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pipeline.route.config import RoutingConfig
from pipeline.route.grouping import (
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


class Router:
    def __init__(
        self,
        config: RoutingConfig,
        state: Mapping[str, Any] | None = None,
        silences: Silences | None = None,
    ) -> None:
        self.config = config
        self.tree = compile_tree(config.route)
        self._routes: dict[str, RouteNode] = {n.id: n for n in all_nodes(self.tree)}
        self._resolve_us = config.resolve_timeout // timedelta(microseconds=1)
        self.silences = silences if silences is not None else Silences()
        self._alerts: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, dict[str, Any]] = {}
        self._suppressed: list[tuple[str, str]] = []
        self._changed_alerts: set[str] = set()
        self._changed_groups: set[str] = set()
        self._inhibit_index: InhibitIndex | None = None  # cached for the span of one due()
        self._in_due = False
        if state is not None:
            self.state_from_json(state)

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
        if held is not None and int(alert["count"]) < int(held["alert"]["count"]):
            return
        end = alert.get("window_end") or alert["ts"]
        until = max(text_us(end, "window_end"), now_us) + self._resolve_us
        if held is not None:
            until = max(until, int(held["until"]))
        self._alerts[key] = {"alert": dict(alert), "until": until}
        self._changed_alerts.add(key)
        for route in match_routes(self.tree, alert):
            labels = group_labels(route, alert)
            gkey = group_key(route, labels)
            group = self._groups.get(gkey)
            if group is None:
                group = self._groups[gkey] = new_group(route, labels, now_us)
                self._changed_groups.add(gkey)
            if key not in group["keys"]:
                group["keys"].append(key)
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
            active = (held["alert"] for held in self._alerts.values())
            index = InhibitIndex(self.config.inhibit_rules, active)
            if self._in_due:  # alerts do not change during due(): build it once
                self._inhibit_index = index
        if index.inhibited_by(alert) is not None:
            return "inhibited"
        return None

    def due(self, now: datetime) -> list[Notification]:
        """Expire alerts, flush the groups whose time has come; the notifications to send."""
        now_us = to_us(now)
        expired = {k: v["alert"] for k, v in self._alerts.items() if v["until"] <= now_us}
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
        expired: dict[str, dict[str, Any]],
        now: datetime,
        now_us: int,
    ) -> None:
        for gkey in sorted(self._groups):
            group = self._groups[gkey]
            if expired and any(k in expired for k in group["keys"]):
                group["keys"] = [k for k in group["keys"] if k not in expired]
                self._changed_groups.add(gkey)
            if not group["keys"]:
                out.extend(self._resolve(gkey, group, expired, now_us))
                del self._groups[gkey]
                self._changed_groups.add(gkey)
                continue
            if group["next_flush"] > now_us:
                continue
            self._changed_groups.add(gkey)
            note = self._flush(gkey, group, now, now_us)
            if note is not None:
                out.append(note)

    def _flush(
        self, gkey: str, group: dict[str, Any], now: datetime, now_us: int
    ) -> Notification | None:
        route = self._routes.get(group["route"])
        if route is None:  # the route left the config: finish the group with the root's timing
            route = self.tree
        shown = []
        muted = set(group.get("muted", [])) & set(group["keys"])
        for k in group["keys"]:
            why = self.muted_by(self._alerts[k]["alert"], now)
            if why is None:
                shown.append(self._alerts[k]["alert"])
                muted.discard(k)
            elif k not in muted:  # counted once per alert and group while it stays muted
                muted.add(k)
                kind = "silenced" if why.startswith("silence:") else "inhibited"
                self._suppressed.append((group["receiver"], kind))
        group["muted"] = sorted(muted)
        visible = {a["dedup_key"]: int(a["count"]) for a in shown}
        # alerts muted (or resolved) since the last notification are new again when they return
        group["sent"] = {k: c for k, c in group["sent"].items() if k in visible}
        group["next_flush"] = now_us + route.group_interval_us
        reason = flush_reason(group, visible, now_us, route.repeat_interval_us)
        if reason is None:
            return None
        new_keys = [k for k in visible if k not in group["sent"]]
        group["sent"] = visible
        group["last_sent"] = now_us
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
        group: dict[str, Any],
        expired: Mapping[str, dict[str, Any]],
        now_us: int,
    ) -> list[Notification]:
        if not group["sent"] or not self._send_resolved(group["receiver"]):
            return []
        alerts = [expired[k] for k in group["sent"] if k in expired]
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
        times = [g["next_flush"] for g in self._groups.values()]
        times += [a["until"] for a in self._alerts.values()]
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

    def take_changes(
        self,
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, dict[str, Any] | None]]:
        """The alerts and groups changed since the last call, by key, in the form of
        :meth:`state_to_json` (None: deleted), so state can be saved one key at a time."""
        alerts = {k: self._alert_json(k) for k in self._changed_alerts}
        groups = {k: self._group_json(k) for k in self._changed_groups}
        self._changed_alerts, self._changed_groups = set(), set()
        return alerts, groups

    def _alert_json(self, key: str) -> dict[str, Any] | None:
        held = self._alerts.get(key)
        return None if held is None else {"alert": dict(held["alert"]), "until": held["until"]}

    def _group_json(self, key: str) -> dict[str, Any] | None:
        g = self._groups.get(key)
        if g is None:
            return None
        return {**g, "labels": dict(g["labels"]), "keys": list(g["keys"]), "sent": dict(g["sent"])}

    def state_to_json(self) -> dict[str, Any]:
        """Everything needed to resume: JSON types only (str, int, list, dict, None)."""
        return {
            "version": STATE_VERSION,
            "alerts": {k: self._alert_json(k) for k in self._alerts},
            "groups": {k: self._group_json(k) for k in self._groups},
        }

    def state_from_json(self, state: Mapping[str, Any]) -> None:
        """Replace the state with one saved by :meth:`state_to_json`."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"router state version {state.get('version')!r} is not {STATE_VERSION}"
            )
        self._alerts = {
            k: {"alert": dict(v["alert"]), "until": int(v["until"])}
            for k, v in state["alerts"].items()
        }
        self._groups = {
            k: {**g, "labels": dict(g["labels"]), "keys": list(g["keys"]), "sent": dict(g["sent"])}
            for k, g in state["groups"].items()
        }
