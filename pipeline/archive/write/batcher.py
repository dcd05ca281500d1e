"""Batches: a run of consecutive offsets of one topic-partition, written as one Avro container.

``Batcher`` cuts per partition by count, bytes or age, and whenever the schema id changes (an
OCF has one writer schema) or an offset is skipped (a batch covers consecutive offsets only).
It does no I/O: the caller passes the time and writes what comes out. Bodies are never decoded
(see ``format.body``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from pipeline.archive.format import layout, ocf
from pipeline.archive.format.body import micros_to_date, peek_ts


class BatchLimits(BaseModel):
    """When a batch is cut (whichever comes first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_events: int = Field(10_000, ge=1)
    max_bytes: int = Field(8 * 1024 * 1024, ge=1)
    max_age_s: float = Field(60.0, gt=0)


@dataclass(slots=True)
class Batch:
    """Consecutive records of one topic-partition, in offset order."""

    topic: str
    partition: int
    schema_id: int | None
    first_offset: int
    bodies: list[bytes] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)  # each body's ts (µs)
    size: int = 0
    opened: float = 0.0  # monotonic time of the first record

    @property
    def last_offset(self) -> int:
        return self.first_offset + len(self.bodies) - 1

    @property
    def count(self) -> int:
        return len(self.bodies)

    def append(self, body: bytes, ts: int) -> None:
        self.bodies.append(body)
        self.ts.append(ts)
        self.size += len(body)

    def object_key(self) -> str:
        return layout.batch_key(
            self.topic,
            self.partition,
            self.first_offset,
            self.last_offset,
            micros_to_date(self.ts[0]),
        )

    def sync_marker(self) -> bytes:
        """Deterministic, so a rebuilt batch has identical bytes (idempotent retries)."""
        seed = f"auditpipe-ocf\x00{self.topic}\x00{self.partition}\x00{self.first_offset}"
        return hashlib.sha256(seed.encode()).digest()[: ocf.SYNC_SIZE]

    def to_ocf(self, schema_json: str, codec: str = ocf.DEFAULT_CODEC) -> bytes:
        return ocf.write_ocf(schema_json, self.bodies, sync=self.sync_marker(), codec=codec)


def batch_of(
    topic: str,
    partition: int,
    first_offset: int,
    bodies: list[bytes],
    schema_id: int | None = None,
) -> Batch:
    """A batch of already-collected bodies at consecutive offsets from ``first_offset``."""
    if not bodies:
        raise ValueError("a batch holds at least one event")
    ts = [peek_ts(b) for b in bodies]
    return Batch(topic, partition, schema_id, first_offset, bodies, ts, sum(map(len, bodies)))


class Batcher:
    """Per-partition batching by count, bytes and age; pure (the caller supplies the clock)."""

    def __init__(
        self, topic: str, limits: BatchLimits, archived: dict[int, int] | None = None
    ) -> None:
        self.topic = layout.check_topic(topic)
        self.limits = limits
        self._open: dict[int, Batch] = {}
        # last archived offset per partition: redelivered records up to it are skipped
        self._done: dict[int, int] = dict(archived or {})

    def add(
        self, partition: int, offset: int, schema_id: int | None, body: bytes, now: float
    ) -> list[Batch]:
        """Add one record; return the batches this closes (zero, one or two)."""
        if offset <= self._done.get(partition, -1):
            return []  # already archived (redelivery after a rebalance or crash)
        ready: list[Batch] = []
        current = self._open.get(partition)
        if current is not None:
            last = current.first_offset + len(current.bodies) - 1
            if offset < current.first_offset:
                # the open batch began past records now delivered (fetched before a rebalance
                # moved the position back): drop it, its records follow these again
                del self._open[partition]
                current = None
            elif offset <= last:
                return ready  # duplicate within the open batch
            elif offset != last + 1 or schema_id != current.schema_id:
                ready.append(self._close(partition))
                current = None
        if current is None:
            current = Batch(self.topic, partition, schema_id, offset, opened=now)
            self._open[partition] = current
        ts = peek_ts(body)  # hot path: Batch.append inlined
        current.bodies.append(body)
        current.ts.append(ts)
        current.size += len(body)
        lim = self.limits
        if len(current.bodies) >= lim.max_events or current.size >= lim.max_bytes:
            ready.append(self._close(partition))
        return ready

    def due(self, now: float) -> list[Batch]:
        """Batches older than ``max_age_s`` (call periodically, also when no records arrive)."""
        old = [p for p, b in self._open.items() if now - b.opened >= self.limits.max_age_s]
        return [self._close(p) for p in old]

    def flush(self) -> list[Batch]:
        return [self._close(p) for p in list(self._open)]

    def revoke(self, partition: int, archived: int | None = None) -> None:
        """Drop a partition's open batch (its records will be redelivered to the new owner);
        ``archived``: its last archived offset (closed batches were dropped unwritten, or another
        process archived it meanwhile)."""
        self._open.pop(partition, None)
        if archived is not None:
            self._done[partition] = archived

    def _close(self, partition: int) -> Batch:
        batch = self._open.pop(partition)
        self._done[partition] = batch.last_offset
        return batch
