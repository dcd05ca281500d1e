"""The streaming archiver: ``audit.events`` → signed, hash-chained batches in one region.

Run one per region, each in its own consumer group (``auditpipe-archiver-<region>``), so an
outage of one region never holds up the other: the one that was down catches up from Kafka
when it returns (``audit.events`` keeps 14 days; see pipeline/kafka/topics.py).

The archive, not the consumer group, is the source of truth for where to resume: on
assignment each partition is positioned right after the last archived offset, and records up
to it are skipped. Offsets are committed only after a batch, its manifest and signature are
durable in the store; a store failure is retried with backoff and nothing is committed
meanwhile. A batch rebuilt after a crash has identical bytes (deterministic key and sync
marker), so its retried write is a no-op.

Closed batches are written in flushes (``flush.write_flush``): the batches, then a signed
checkpoint of every partition's head, so a deleted tail shows as soon as the flush is done. A
batch waits at most ``flush_interval_s`` for others to share its flush (under load that is many
batches per checkpoint instead of one); quiet periods still get a checkpoint every
``checkpoint_interval_s``. Each checkpoint names the other region's latest checkpoint when a
``WitnessWatcher`` knows it.

Record values are taken as Avro bodies without decoding (the Confluent wire header is
stripped), which is what makes the archiver fast. A ``transform`` (the alerts source,
``alerts.AlertRecorder``) instead rewrites each whole record into an ``audit_event`` body; a
record it refuses is skipped and counted, and leaves a gap ``verify`` reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from pipeline.archive.format.body import WIRE_MAGIC
from pipeline.archive.format.chain import refresh
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.store import Store
from pipeline.archive.lifecycle.retention import Retention
from pipeline.archive.write.batcher import Batch, Batcher, BatchLimits
from pipeline.archive.write.flush import complete_partition, write_flush
from pipeline.archive.write.witness import WitnessWatcher
from pipeline.archive.write.writer import ArchiveWriter
from pipeline.errors import DeserializationError, RetryableError
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.startup import Stopped, retry_until_stopped

log = logging.getLogger(__name__)


@dataclass
class ArchiverStats:
    records: int = 0
    batches: int = 0
    events_archived: int = 0
    checkpoints: int = 0
    store_retries: int = 0
    skipped: int = 0


class ArchiverStage:
    def __init__(
        self,
        conn: KafkaConnection,
        store: Store,
        signer: Signer,
        *,
        topic: str,
        region: str,
        limits: BatchLimits | None = None,
        checkpoint_interval_s: float = 60.0,
        flush_interval_s: float = 1.0,
        group_id: str | None = None,
        on_batch: Callable[[ArchiverStats], None] | None = None,
        retention: Retention | None = None,
        witness: WitnessWatcher | None = None,
        transform: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.store = store
        self.transform = transform
        self.topic = topic
        self.region = region
        self.limits = limits or BatchLimits()
        self.checkpoint_interval_s = checkpoint_interval_s
        self.flush_interval_s = flush_interval_s
        self._pending: list[Batch] = []  # closed batches waiting for the next flush
        self._assigned: set[int] = set()  # partitions this process owns now
        self.stats = ArchiverStats()
        self._on_batch = on_batch
        self._stop = threading.Event()
        self.writer = ArchiveWriter.open(
            store,
            signer,
            topic,
            raw_schema(AUDIT_EVENT),
            schema_text(AUDIT_EVENT),
            retention=retention,  # retain-until per batch from rules/retention.yaml
            heartbeat_s=checkpoint_interval_s,  # signed: lets verify --max-age see a cut tail
        )
        self.witness = witness
        heads = {p: h.last_offset for p, h in self.writer.state.partitions.items()}
        self.batcher = Batcher(topic, self.limits, heads)
        # a crashed archiver's partitions move on after the connection's session timeout
        self.consumer: Consumer = clients.consumer(
            conn,
            group_id or f"auditpipe-archiver-{region}",
            {"enable.auto.commit": False, "auto.offset.reset": "earliest"},
            logger=clients.LIBRDKAFKA_LOGGER,
        )

    def stop(self) -> None:
        self._stop.set()

    def _adopt(self, partitions: list[int]) -> None:
        """Take over ``partitions``: the latest checkpoint (another archiver of this region may
        have moved them on), then whatever a crashed owner left of its last flush."""
        refresh(self.store, self.writer.state, self.writer.signer)
        moved = [p for p in partitions if complete_partition(self.writer, p)]
        if moved:
            write_flush(self.writer, [])
            self.stats.checkpoints += 1

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assigned = {tp.partition for tp in partitions}
        self._retry("assign", lambda: self._adopt(sorted(assigned)))
        # each partition restarts right after its durable head: batches closed before are moot
        # (mutated in place: ``run`` may hold a reference to the list while this callback runs)
        self._pending[:] = [b for b in self._pending if b.partition not in assigned]
        self._assigned = assigned
        for tp in partitions:
            head = self.writer.state.last_offset(tp.partition)
            self.batcher.revoke(tp.partition, archived=head)  # continue right after the head
            tp.offset = head + 1 if head >= 0 else OFFSET_BEGINNING
        consumer.assign(partitions)
        log.info(
            "partitions assigned",
            extra={"region": self.region, "partitions": [tp.partition for tp in partitions]},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # batches not yet written are dropped: the next owner rebuilds them from the archive head
        revoked = {tp.partition for tp in partitions}
        # in place, never rebound: ``run`` may be about to extend this very list (see there)
        self._pending[:] = [b for b in self._pending if b.partition not in revoked]
        self._assigned -= revoked
        for p in revoked:
            self.batcher.revoke(p, archived=self.writer.state.last_offset(p))
        consumer.unassign()

    def run(self) -> ArchiverStats:
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        if self.witness is not None:
            self.witness.start()
        last_flush = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                # consume first: it runs the rebalance callbacks, which change the batcher and
                # _pending; records it returns are taken after them (issue 7: batches closed
                # into a list the callback had replaced were lost, the next one left a gap)
                msgs = self.consumer.consume(1000, 0.2)
                self._pending.extend(self._take(msgs, now))
                self._pending.extend(self.batcher.due(now))
                since = time.monotonic() - last_flush
                if (self._pending and since >= self.flush_interval_s) or (
                    since >= self.checkpoint_interval_s
                ):
                    batches, self._pending = self._pending, []
                    self._flush(batches)
                    last_flush = time.monotonic()
            self._flush(self._pending + self.batcher.flush())
        finally:
            if self.witness is not None:
                self.witness.stop()
            self.consumer.close()
        return self.stats

    def _take(self, msgs: list[Message], now: float) -> list[Batch]:
        """Add consumed records to their batches; the batches this closed (the hot loop)."""
        ready: list[Batch] = []
        add = self.batcher.add
        assigned = self._assigned
        records = skipped = 0
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error", extra={"error": err.str()})
                continue
            records += 1
            partition = msg.partition() or 0
            if partition not in assigned:
                # fetched before a rebalance took the partition away: its owner archives it
                continue
            value = msg.value() or b""
            if len(value) < 5 or value[0] != WIRE_MAGIC:
                # audit.events holds only what the sanitizer wrote; count, never stop
                skipped += 1
                continue
            if self.transform is None:
                schema_id: int | None = int.from_bytes(value[1:5], "big")
                body = value[5:]
            else:
                schema_id = None
                try:
                    # the alerts source decodes: a registry outage is waited out here (raising
                    # stopped the archiver, and its restarts, until the registry was back)
                    body = retry_until_stopped(
                        partial(self.transform, value),
                        (RetryableError,),
                        self._stop,
                        what=f"{self.region} {self.topic}",
                    )
                except Stopped:
                    # stopping: the records before this one are batched (returned below and
                    # flushed by ``run``); this one and the rest are consumed again next start
                    break
                except DeserializationError as exc:
                    skipped += 1
                    log.warning(
                        "record not archivable; skipped",
                        extra={"topic": self.topic, "partition": partition, "error": exc.reason},
                    )
                    continue
            closed = add(partition, msg.offset() or 0, schema_id, body, now)
            if closed:
                ready.extend(closed)
        self.stats.records += records
        self.stats.skipped += skipped
        return ready

    def _retry(self, what: str, fn: Callable[[], object]) -> None:
        delay = 0.2
        while True:
            try:
                fn()
                return
            except (RetryableError, OSError) as exc:
                self.stats.store_retries += 1
                log.warning(
                    "store unavailable; retrying, nothing committed meanwhile",
                    extra={"region": self.region, "what": what, "error": str(exc)},
                )
                if self._stop.wait(delay):
                    raise
                delay = min(10.0, delay * 2)

    def _flush(self, batches: list[Batch]) -> None:
        """Write ``batches`` and a checkpoint, then commit their offsets."""
        witness = self.witness.latest() if self.witness is not None else None
        self._retry("flush", lambda: write_flush(self.writer, batches, witness))
        self.stats.checkpoints += 1
        if not batches:
            return
        ends: dict[int, int] = {}
        for batch in batches:
            ends[batch.partition] = max(ends.get(batch.partition, -1), batch.last_offset + 1)
        offsets = [TopicPartition(self.topic, p, o) for p, o in sorted(ends.items())]
        # refused after a rebalance: the archive head positions the next owner
        clients.commit(self.consumer, offsets)
        self.stats.batches += len(batches)
        self.stats.events_archived += sum(b.count for b in batches)
        if self._on_batch is not None:
            self._on_batch(self.stats)
