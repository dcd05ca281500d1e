"""The detection engine: events in (JSON form, or the decoded Avro datum with its time in µs),
alerts out (JSON form of schemas/alert.avsc).

Pure Python and synchronous, so the streaming loop and ``auditpipe detect`` drive the same code.
All state lives in ``store``, a mutable mapping from ``"<rule>\\x1f<group key>"`` to a
:class:`~pipeline.detect.state.GroupState`; the streaming stage passes a store that remembers
the keys written until its next checkpoint (``changelog.SlotStore``). Each value is written
back after every change.
``snapshot()``/``restore()`` round-trip the whole engine through JSON.

Event time: the watermark is the highest event time seen (per engine; the streaming stage runs
one engine per partition). An event older than the watermark minus ``allowed_lateness_s`` is
counted in ``late`` and not evaluated: the windows it belongs to are closed. State of a group is
expired once the watermark has moved past its rule's retention (window, baseline or history)
plus the lateness. The streaming stage persists ``progress()`` (watermark and counters) with the
state and hands it back with ``resume()``.

Duplicates: an event whose ``event_id`` was already evaluated within the allowed lateness is
counted in ``duplicates`` and not evaluated again (producers retry, the sanitizer is
at-least-once). The ids are remembered in memory, oldest first, until the watermark has moved
more than the lateness past them (an older copy is late anyway) and at most ``dedup_max``
of them (the oldest go first).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, MutableMapping
from typing import Any

from pipeline.detect import windows
from pipeline.detect.alerts import Policy, Trigger, build_alert, mark_sent, on_trigger, ts_us
from pipeline.detect.config import EngineConfig, timespan_seconds
from pipeline.detect.fields import Getter, as_text, getter
from pipeline.detect.model import CorrelationRule, DetectionRule, RuleMeta, RuleSet
from pipeline.detect.state import GroupState, Sample
from pipeline.records import Fields, Record

SEP = "\x1f"
US = 1_000_000


class _Hit:
    """A rule matched (a detection) or fired (a correlation) at ``ts`` for an event/group."""

    __slots__ = ("count", "event", "first_ts", "group", "samples", "ts")

    def __init__(
        self,
        *,
        ts: int,
        first_ts: int,
        count: int,
        samples: list[Sample],
        event: dict[str, Any] | None,
        group: dict[str, str],
    ) -> None:
        self.ts, self.first_ts, self.count = ts, first_ts, count
        self.samples, self.event, self.group = samples, event, group


def _sample(event: dict[str, Any]) -> Sample:
    return (
        str(event.get("event_id", "")),
        str(event.get("request_id") or ""),
        str(event.get("trace_id") or ""),
    )


class Engine:
    def __init__(
        self,
        rules: RuleSet,
        config: EngineConfig | None = None,
        store: MutableMapping[str, GroupState] | None = None,
    ) -> None:
        self.rules = rules
        self.config = config or EngineConfig()
        self.store: MutableMapping[str, GroupState] = {} if store is None else store
        self.watermark = 0
        self.late = 0
        self.processed = 0
        self.duplicates = 0
        self.alerts_by_rule: Counter[str] = Counter()
        self._seen_ids: set[str] = set()
        self._seen_order: deque[tuple[int, str]] = deque()
        self._lateness = int(self.config.allowed_lateness_s * US)
        self._getters: dict[str, Getter] = {}
        self._metas: dict[str, RuleMeta] = {}
        self._retention: dict[str, int] = {}
        self._refs: dict[str, list[tuple[CorrelationRule, list[int]]]] = {}
        needed: set[str] = set()
        for corr in rules.correlations:
            needed.update(corr.refs)
            for ref in dict.fromkeys(corr.refs):
                pos = [i for i, r in enumerate(corr.refs) if r == ref]
                self._refs.setdefault(ref, []).append((corr, pos))
        self._needed = frozenset(needed)
        for rule in rules.all_rules():
            self._retention[rule.name] = rules.retention_s(rule.name) * US + self._lateness
            if rule.meta is not None:
                self._metas[rule.name] = rule.meta

    # --- helpers ------------------------------------------------------------------------------

    def _get(self, path: str) -> Getter:
        fn = self._getters.get(path)
        if fn is None:
            fn = self._getters[path] = getter(path)
        return fn

    def _group(self, fields: tuple[str, ...], hit: _Hit) -> dict[str, str]:
        if hit.event is not None:
            return {f: as_text(self._get(f)(hit.event)) for f in fields}
        return {f: hit.group.get(f, "") for f in fields}

    def _policy(self, meta: RuleMeta) -> Policy:
        c = self.config
        interval = (
            meta.update_interval_s if meta.update_interval_s is not None else c.update_interval_s
        )
        factor = meta.update_factor if meta.update_factor is not None else c.update_factor
        return Policy(int(interval * US), factor, c.sample_size)

    def _state(self, rule: str, group: dict[str, str]) -> tuple[str, GroupState]:
        key = rule + SEP + SEP.join(group.values())
        state = self.store.get(key)
        if state is None:
            state = GroupState(group=group)
        return key, state

    def _save(self, key: str, state: GroupState, ts: int) -> None:
        state.last = max(state.last, ts)
        self.store[key] = state

    def _trigger(
        self, rule: str, key: str, state: GroupState, trig: Trigger
    ) -> list[dict[str, Any]]:
        meta = self._metas[rule]
        if on_trigger(state, trig, self._policy(meta)) and state.inc is not None:
            self.alerts_by_rule[meta.rule_id] += 1
            return [build_alert(meta, state.group, state.inc)]
        return []

    # --- evaluation -----------------------------------------------------------------------------

    def process(self, event: dict[str, Any], ts: int | None = None) -> list[dict[str, Any]]:
        """Evaluate one event; return the alerts (and updates) it raises. ``ts``: its event
        time in µs when the caller has it as a number (the streaming stage decodes Avro's
        timestamp-micros to an int), else parsed from the JSON form's ``ts``."""
        if ts is None:
            ts = ts_us(event["ts"])
        alerts: list[dict[str, Any]] = []
        if ts > self.watermark:
            self.watermark = ts
        elif ts < self.watermark - self._lateness:
            self.late += 1
            return alerts
        if self._duplicate(str(event.get("event_id") or ""), ts):
            self.duplicates += 1
            return alerts
        self.processed += 1
        if self.processed % self.config.expire_every == 0:
            alerts.extend(self.expire())
        hits: dict[str, _Hit] = {}
        for rule in self.rules.detections:
            if not rule.predicate(event):
                continue
            hit = _Hit(ts=ts, first_ts=ts, count=1, samples=[_sample(event)], event=event, group={})
            if rule.name in self._needed:
                hits[rule.name] = hit
            if rule.meta is not None:
                alerts.extend(self._detection(rule, hit, event))
        if hits:
            for name, hit in list(hits.items()):
                alerts.extend(self._propagate(name, hit, hits))
        return alerts

    def _duplicate(self, event_id: str, ts: int) -> bool:
        """Whether ``event_id`` was seen within the lateness; remembers it if not."""
        if not event_id:
            return False
        seen = self._seen_ids
        if event_id in seen:
            return True
        order = self._seen_order
        horizon = self.watermark - self._lateness
        while order and (order[0][0] < horizon or len(order) >= self.config.dedup_max):
            seen.discard(order.popleft()[1])
        seen.add(event_id)
        order.append((ts, event_id))
        return False

    def _propagate(self, name: str, hit: _Hit, hits: dict[str, _Hit]) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        for corr, positions in self._refs.get(name, []):
            fired = self._correlate(corr, name, positions, hit)
            if fired is None:
                continue
            result, key, state, trig = fired
            if corr.meta is not None:
                alerts.extend(self._trigger(corr.name, key, state, trig))
                self.store[key] = state
            hits[corr.name] = result
            alerts.extend(self._propagate(corr.name, result, hits))
        return alerts

    def _correlate(
        self, corr: CorrelationRule, ref: str, positions: list[int], hit: _Hit
    ) -> tuple[_Hit, str, GroupState, Trigger] | None:
        group = self._group(corr.group_by, hit)
        key, state = self._state(corr.name, group)
        span = corr.timespan_s * US
        ts = hit.ts
        if state.samples is None:
            state.samples = []
        samples = state.samples
        samples.extend(hit.samples)
        del samples[: -self.config.sample_size]
        fired: tuple[int, int, int] | None = None
        if corr.kind in ("event_count", "value_count"):
            value = None
            if corr.kind == "value_count":
                raw = self._group((corr.field or "",), hit)[corr.field or ""]
                value = raw
            width = max(1, span // self.config.slots)
            measure, start = windows.slot_count(state, ts, width, self.config.slots, value)
            if corr.test(measure):
                fired = (measure, start, measure)
        elif corr.kind == "temporal":
            seen, total, start = windows.temporal(state, ref, ts, span, hit.count)
            if corr.test(seen):
                fired = (seen, start, total)
        else:
            done = windows.temporal_ordered(
                state, positions=positions, length=len(corr.refs), ts=ts, span=span, count=hit.count
            )
            if done is not None:
                fired = (len(corr.refs), done[0], done[1])
        self._save(key, state, ts)
        if fired is None:
            return None
        measure, start, count = fired
        result = _Hit(
            ts=ts, first_ts=start, count=count, samples=list(samples), event=None, group=group
        )
        details = {
            "correlation": corr.kind,
            "condition": f"{corr.op} {corr.threshold:g}",
            "value": f"{measure:g}",
        }
        service = hit.event.get("service") if hit.event is not None else None
        trig = Trigger(
            ts=ts,
            first_ts=start,
            count=count,
            window_start=start,
            window_end=start + span,
            samples=list(samples),
            service=service,
            details=details,
        )
        return result, key, state, trig

    def _detection(
        self, rule: DetectionRule, hit: _Hit, event: dict[str, Any]
    ) -> list[dict[str, Any]]:
        group = self._group(rule.group_by, hit)
        key, state = self._state(rule.name, group)
        ts = hit.ts
        block = rule.block
        alerts: list[dict[str, Any]] = []
        service = event.get("service")
        if block.spike is not None:
            spec = block.spike
            width = timespan_seconds(spec.timespan) * US
            # measure 0 is always the event count, the alert's count
            values = [
                1.0,
                *(
                    1.0 if m.of == "count" else _number(self._get(m.of)(event))
                    for m in spec.measures
                ),
            ]
            result = windows.spike(state, ts, width, values, spec.baseline)
            if result is not None:
                start, totals, means, history = result
                if state.samples is None:
                    state.samples = []
                samples = state.samples
                samples.append(hit.samples[0])
                del samples[: -self.config.sample_size]
                for m, total, mean in zip(spec.measures, totals[1:], means[1:], strict=True):
                    if (
                        history >= spec.min_history
                        and total >= m.floor
                        and total >= m.factor * mean
                    ):
                        details = {
                            "measure": m.of,
                            "value": f"{total:g}",
                            "baseline": f"{mean:g}",
                            "factor": f"{m.factor:g}",
                        }
                        trig = Trigger(
                            ts=ts,
                            first_ts=start,
                            count=int(totals[0]),
                            window_start=start,
                            window_end=start + width,
                            samples=list(samples),
                            service=service,
                            details=details,
                        )
                        alerts.extend(self._trigger(rule.name, key, state, trig))
                        break
        elif block.new_value is not None:
            nv = block.new_value
            value = as_text(self._get(nv.field)(event))
            if value:
                found = windows.new_value(
                    state,
                    value,
                    ts,
                    timespan_seconds(nv.history) * US,
                    nv.max_values,
                    sample=hit.samples[0],
                    horizon=self.watermark - self._lateness,
                )
                # the event's own value, or values judged again now that earlier history
                # arrived late: each alerts as of the event that first carried it
                for new, at, sample in found:
                    trig = _instant(
                        state,
                        at,
                        timespan_seconds(nv.window) * US,
                        [sample],
                        service,
                        {"field": nv.field, "new_value": new},
                    )
                    alerts.extend(self._trigger(rule.name, key, state, trig))
        else:
            trig = _instant(state, ts, rule.window_s * US, hit.samples, service, {})
            alerts.extend(self._trigger(rule.name, key, state, trig))
        self._save(key, state, ts)
        return alerts

    # --- maintenance ------------------------------------------------------------------------------

    def expire(self) -> list[dict[str, Any]]:
        """Drop state past its retention; emit the final update of incidents that grew unseen."""
        alerts: list[dict[str, Any]] = []
        for key in list(self.store):
            state = self.store[key]
            rule = key.split(SEP, 1)[0]
            inc = state.inc
            if inc is not None and inc.end <= self.watermark - self._lateness:
                alerts.extend(self._final(rule, key, state))
            if state.last < self.watermark - self._retention.get(rule, 0):
                del self.store[key]
        return alerts

    def advance(self, watermark: int) -> list[dict[str, Any]]:
        """Move the watermark to ``watermark`` (µs) without an event, then expire.

        The streaming stage calls it for a partition that has been idle: its event time has
        passed with the wall clock, so its windows close and their final updates go out.
        """
        self.watermark = max(self.watermark, watermark)
        return self.expire()

    def _final(self, rule: str, key: str, state: GroupState) -> list[dict[str, Any]]:
        inc = state.inc
        meta = self._metas.get(rule)
        if inc is None or meta is None or inc.count <= inc.sent:
            return []
        mark_sent(inc, max(inc.last, inc.sent_at))
        self.store[key] = state
        self.alerts_by_rule[meta.rule_id] += 1
        return [build_alert(meta, state.group, inc)]

    def flush(self) -> list[dict[str, Any]]:
        """End of input: the final update of every incident whose count grew since it was sent."""
        alerts: list[dict[str, Any]] = []
        for key in list(self.store):
            alerts.extend(self._final(key.split(SEP, 1)[0], key, self.store[key]))
        return alerts

    def run(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in events:
            out.extend(self.process(event))
        out.extend(self.flush())
        return out

    def progress(self) -> Record:
        """The watermark and counters, persisted with the state by the streaming stage
        (``duplicates`` only once there are some: records written before it stay unchanged)."""
        doc: Record = {"watermark": self.watermark, "late": self.late, "processed": self.processed}
        if self.duplicates:
            doc["duplicates"] = self.duplicates
        return doc

    def resume(self, progress: object) -> None:
        """Take back what ``progress()`` returned (after a restart or a rebalance)."""
        f = Fields(progress, "Engine progress")
        self.watermark = f.integer("watermark")
        self.late = f.integer("late")
        self.processed = f.integer("processed")
        self.duplicates = f.integer("duplicates") if f.has("duplicates") else 0

    def snapshot(self) -> Record:
        """The whole engine as JSON (each group's state as its changelog record)."""
        return {**self.progress(), "state": {k: v.encode() for k, v in self.store.items()}}

    @classmethod
    def restore(
        cls, rules: RuleSet, snapshot: object, config: EngineConfig | None = None
    ) -> Engine:
        f = Fields(snapshot, "Engine snapshot")
        engine = cls(rules, config, f.mapping("state", lambda v, _p: GroupState.decode(v)))
        engine.resume(snapshot)
        return engine


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _instant(
    state: GroupState,
    ts: int,
    width: int,
    samples: list[Sample],
    service: str | None,
    details: dict[str, str],
) -> Trigger:
    """The trigger of a rule that alerts on one event (a match, a new value): in the fixed window
    of ``width`` µs holding ``ts``, counting on from the open incident while ``ts`` is inside it."""
    start = ts - ts % width
    inc = state.inc
    return Trigger(
        ts=ts,
        first_ts=ts,
        count=inc.count + 1 if inc is not None and ts < inc.end else 1,
        window_start=start,
        window_end=start + width,
        samples=samples,
        service=service,
        details=details,
    )
