"""Readiness and lag of a stage's consumer group, from the broker's point of view.

The probe needs nothing from the stage's loop: it asks the broker (public admin API) whether
the group is stable with members, what it committed, and where each partition ends. Lag per
partition and committed offsets become metrics; committed offsets that do not move while there
is lag make the stage "stalled".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, TopicPartition

# OffsetSpec: documented public API of AdminClient.list_offsets, missing from __all__
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    OffsetSpec,
)
from prometheus_client import CollectorRegistry, Gauge

from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.ops.health import Verdict

READY_STATES = {ConsumerGroupState.STABLE}


class GroupProbe:
    """Looks at one consumer group; ``check`` is called from the health probe thread."""

    def __init__(
        self,
        conn: KafkaConnection,
        group: str,
        registry: CollectorRegistry,
        *,
        timeout_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn = conn
        self._admin = self._new_admin()
        self.group = group
        self._timeout = timeout_s
        self._clock = clock
        self._committed: dict[tuple[str, int], int] = {}
        self._moved_at = clock()
        self._lagging = False
        labels = ["group", "topic", "partition"]
        self.lag = Gauge(
            "auditpipe_consumer_lag",
            "records behind the end, per partition",
            labels,
            registry=registry,
        )
        self.committed = Gauge(
            "auditpipe_consumer_committed_offset",
            "committed offset per partition",
            labels,
            registry=registry,
        )
        self.end = Gauge(
            "auditpipe_topic_end_offset",
            "end offset per partition of the group's topics (a source gone quiet stops it)",
            ["topic", "partition"],
            registry=registry,
        )
        self.ready = Gauge(
            "auditpipe_ready",
            "1 when the stage is ready (broker up, group stable)",
            ["group"],
            registry=registry,
        )
        self.stalled = Gauge(
            "auditpipe_consumer_stalled_seconds",
            "seconds the group's committed offsets have not moved while it had lag",
            ["group"],
            registry=registry,
        )

    def check(self) -> Verdict:
        verdict = self._check()
        self._admin.poll(0)  # serves its librdkafka log lines (clients.admin)
        self.ready.labels(self.group).set(1 if verdict.ok else 0)
        self.stalled.labels(self.group).set(self.stalled_for())
        return verdict

    def _check(self) -> Verdict:
        try:
            desc = self._admin.describe_consumer_groups([self.group], request_timeout=self._timeout)
            group = desc[self.group].result(timeout=self._timeout)
        except Exception as exc:
            self._renew()
            return Verdict(False, f"broker or group unreachable: {_kafka_reason(exc)}")
        if group.state not in READY_STATES or not group.members:
            return Verdict(False, f"group {self.group} is {group.state.name.lower()}")
        assigned = {
            (tp.topic, tp.partition) for m in group.members for tp in m.assignment.topic_partitions
        }
        try:
            self._update_offsets(assigned)
        except Exception as exc:
            self._renew()
            return Verdict(False, f"offsets unavailable: {_kafka_reason(exc)}")
        return Verdict(True, f"{len(group.members)} members, {len(assigned)} partitions assigned")

    def _renew(self) -> None:
        """A new admin client after a failure: one that lived through a broker outage can keep
        stale connections and metadata."""
        self._admin.poll(0)  # what the old one logged, first
        self._admin = self._new_admin()

    def _new_admin(self) -> AdminClient:
        return clients.admin(self._conn, {"client.id": f"{self._conn.client_id}-health"})

    def _update_offsets(self, assigned: set[tuple[str, int]]) -> None:
        """Committed offsets and lag of every partition the group committed or holds; a
        partition with nothing committed yet lags by all it holds (end - earliest)."""
        req = [ConsumerGroupTopicPartitions(self.group)]
        res = self._admin.list_consumer_group_offsets(req, request_timeout=self._timeout)
        tps = res[self.group].result(timeout=self._timeout).topic_partitions or []
        committed = {(tp.topic, tp.partition): tp.offset for tp in tps}
        for key in assigned:
            committed.setdefault(key, -1)
        ends = self._offsets(list(committed), OffsetSpec.latest())  # type: ignore[no-untyped-call]
        starts = self._offsets(
            [k for k, off in committed.items() if off < 0],
            OffsetSpec.earliest(),  # type: ignore[no-untyped-call]
        )
        lag_total = 0
        for (topic, partition), offset in committed.items():
            end = ends.get((topic, partition), offset)
            position = offset if offset >= 0 else starts.get((topic, partition), end)
            lag = max(0, end - position)
            lag_total += lag
            labels = (self.group, topic, str(partition))
            self.lag.labels(*labels).set(lag)
            self.end.labels(topic, str(partition)).set(end)
            if offset >= 0:
                self.committed.labels(*labels).set(offset)
        now = self._clock()
        if committed != self._committed or lag_total == 0:
            self._moved_at = now
        self._committed = committed
        self._lagging = lag_total > 0

    def _offsets(self, keys: list[tuple[str, int]], spec: Any) -> dict[tuple[str, int], int]:
        if not keys:
            return {}
        specs = {TopicPartition(t, p): spec for t, p in keys}
        futures = self._admin.list_offsets(specs, request_timeout=self._timeout)
        return {
            (tp.topic, tp.partition): fut.result(timeout=self._timeout).offset
            for tp, fut in futures.items()
        }

    def stalled_for(self) -> float:
        if not self._lagging:
            return 0.0
        return max(0.0, self._clock() - self._moved_at)


def _kafka_reason(exc: Exception) -> str:
    """The error's name (a Kafka error code when there is one; never a message payload)."""
    err = exc.args[0] if exc.args else None
    name = getattr(err, "name", None)
    return f"{type(exc).__name__} {name()}" if callable(name) else type(exc).__name__


class ProgressAge:
    """Seconds since a counter last grew (e.g. the archiver's checkpoints), sampled per probe."""

    def __init__(
        self,
        read: Callable[[], int],
        gauge: Gauge,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._gauge = gauge
        self._clock = clock
        self._last = read()
        self._changed_at = clock()

    def sample(self) -> float:
        value = self._read()
        now = self._clock()
        if value != self._last:
            self._last, self._changed_at = value, now
        age = now - self._changed_at
        self._gauge.set(age)
        return age
