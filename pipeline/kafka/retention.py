"""``auditpipe retention verify-hot``: nothing older than its retention remains in Kafka.

Per topic the table covers (named and raw) and per partition: the earliest offset, and the
timestamp of the record there, against the cutoff ``now - (retention + segment + check
interval)``. The bound is honest about how Kafka deletes: a whole segment goes once its newest
record is older than ``retention.ms``, at the broker's next retention check
(``log.retention.check.interval.ms``, read from the broker), and a segment spans at most
``segment.ms``; so a record may lawfully remain up to that sum after its timestamp. A partition
passes when it is empty or its earliest record is younger than the cutoff; it fails when the
earliest record is older, or when no record could be read to prove it. Compacted topics have no
time limit and are listed as such.

The earliest offset is the oldest record by position; its timestamp is the record's own
(CreateTime: the producer's clock, unless the topic uses LogAppendTime). A producer that writes
old timestamps after newer ones makes a later record older than the earliest: the check reads the
earliest, as Kafka's retention does (by segment).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, KafkaError, KafkaException, TopicPartition

# public names of confluent_kafka.admin, re-exported there without `as` (mypy's strict view)
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # type: ignore[attr-defined]

from pipeline.errors import RetryableError
from pipeline.kafka import clients, topics, topicsync
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings

CHECK_INTERVAL_KEY = "log.retention.check.interval.ms"
KAFKA_DEFAULT_CHECK_INTERVAL_MS = 300_000
GROUP = "auditpipe-retention-verify"  # never joins or commits: partitions are assigned

Status = Literal["ok", "empty", "too old", "unreadable", "no time limit"]


@dataclass(frozen=True)
class PartitionCheck:
    topic: str
    partition: int | None  # None: the whole (compacted) topic
    earliest: int | None
    latest: int | None
    timestamp_ms: int | None
    cutoff_ms: int | None
    status: Status

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "empty", "no time limit")


@dataclass(frozen=True)
class HotReport:
    checks: tuple[PartitionCheck, ...]
    check_interval_ms: int
    interval_known: bool  # False: the broker's value could not be read (Kafka's default used)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[PartitionCheck, ...]:
        return tuple(c for c in self.checks if not c.ok)


def check_interval_ms(admin: AdminClient, timeout: float = 10.0) -> int | None:
    """The broker's ``log.retention.check.interval.ms`` (the largest of all brokers), or None
    when it cannot be read."""
    try:
        brokers = list(admin.list_topics(timeout=timeout).brokers)
        resources = [ConfigResource(ResourceType.BROKER, str(b)) for b in brokers]
        values = []
        for fut in admin.describe_configs(resources, request_timeout=timeout).values():
            entry = fut.result(timeout=timeout).get(CHECK_INTERVAL_KEY)
            if entry is not None and entry.value is not None:
                values.append(int(entry.value))
    except (KafkaException, ValueError):
        return None
    return max(values) if values else None


def _earliest_timestamps(
    conn: KafkaConnection, parts: list[TopicPartition], timeout: float
) -> dict[tuple[str, int], tuple[int, int | None]]:
    """(offset, timestamp) of the first record at or after each partition's given offset;
    timestamp None when none was read in time. A partition whose end comes first (only
    transaction markers left) is left out."""
    if not parts:
        return {}
    consumer = clients.consumer(
        conn,
        GROUP,
        {
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",  # the earliest moved on meanwhile: read the new one
            "enable.partition.eof": True,
            "isolation.level": "read_uncommitted",
        },
    )
    out: dict[tuple[str, int], tuple[int, int | None]] = {
        (p.topic, p.partition): (p.offset, None) for p in parts
    }
    pending = set(out)
    try:
        consumer.assign(parts)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            tp = (str(msg.topic()), int(msg.partition() or 0))
            if tp not in pending:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(tp)
                    del out[tp]
                continue
            kind, ts = msg.timestamp()
            offset = msg.offset()
            out[tp] = (
                offset if offset is not None else out[tp][0],
                None if kind == TIMESTAMP_NOT_AVAILABLE else ts,
            )
            pending.discard(tp)
            consumer.incremental_unassign([TopicPartition(*tp)])
    finally:
        consumer.close()
    return out


def verify_hot(
    conn: KafkaConnection,
    settings: Settings,
    table: topics.TopicTable,
    *,
    now_ms: int | None = None,
    only: Iterable[str] | None = None,
    timeout: float = 30.0,
) -> HotReport:
    """Check every existing topic the table covers (or only those of ``only``)."""
    admin = clients.admin(conn)
    interval = check_interval_ms(admin)
    known = interval is not None
    interval = interval if interval is not None else KAFKA_DEFAULT_CHECK_INTERVAL_MS
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    keep = set(only) if only is not None else None
    existing = topicsync.existing_topics(admin, timeout)
    probe = clients.consumer(conn, GROUP, {"enable.auto.commit": False})
    checks: list[PartitionCheck] = []
    to_read: list[TopicPartition] = []
    cutoffs: dict[str, int] = {}
    try:
        for name in sorted(existing):
            d = topics.declared_for(settings, table, name)
            if d is None or (keep is not None and name not in keep):
                continue
            bound = d.policy.bound_ms
            if bound is None:
                checks.append(PartitionCheck(name, None, None, None, None, None, "no time limit"))
                continue
            cutoffs[name] = now - bound - interval
            for p in range(existing[name]):
                try:
                    low, high = probe.get_watermark_offsets(
                        TopicPartition(name, p), timeout=timeout
                    )
                except KafkaException as exc:
                    raise RetryableError(
                        f"could not read the offsets of {name}[{p}]: {exc.args[0]}"
                    ) from exc
                if low >= high:
                    checks.append(PartitionCheck(name, p, low, high, None, cutoffs[name], "empty"))
                else:
                    checks.append(PartitionCheck(name, p, low, high, None, cutoffs[name], "ok"))
                    to_read.append(TopicPartition(name, p, low))
    finally:
        probe.close()
    first = _earliest_timestamps(conn, to_read, timeout)
    out = []
    for c in checks:
        if c.status != "ok" or c.partition is None:
            out.append(c)
            continue
        got = first.get((c.topic, c.partition))
        if got is None:  # only transaction markers between earliest and the end
            out.append(
                PartitionCheck(
                    c.topic, c.partition, c.earliest, c.latest, None, c.cutoff_ms, "empty"
                )
            )
            continue
        offset, ts = got
        status: Status
        if ts is None:
            status = "unreadable"
        elif c.cutoff_ms is not None and ts < c.cutoff_ms:
            status = "too old"
        else:
            status = "ok"
        out.append(PartitionCheck(c.topic, c.partition, offset, c.latest, ts, c.cutoff_ms, status))
    return HotReport(tuple(out), interval, known)
