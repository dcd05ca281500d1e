"""A consume → process → produce → commit loop with at-least-once delivery, for stateless stages.

Each batch: consume up to ``batch_size`` records, turn each into zero or more output records
(a processor never raises for one bad record: it returns a dead letter instead), produce them
all with an idempotent ``acks=all`` producer, wait until *every* output is acknowledged
(retrying failed ones), and only then commit the input offsets synchronously. A kill -9 at any
point re-delivers the uncommitted batch: duplicates, never loss (downstream dedups by
``event_id``).

Why not faust here: the sanitizer keeps no state, and faust-streaming's commit path has known
at-least-once gaps (an offset committed past an in-flight message under concurrency,
faust-streaming#606; ``take_events`` acks a batch in a ``finally`` even when the batch body
failed). librdkafka's consumer and producer, driven directly, make the order
"outputs durable, then commit" explicit. The stages with state (detector, router) run
their own loops on the same clients, with state in a compacted changelog topic restored on
assignment (``pipeline.detect.loop``, ``pipeline.route.stage``); the detector's docstring has
the measurement against faust-streaming, and ``benchmarks/RESULTS.md`` the sanitizer's against a
plain consumer loop and Quix Streams.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message, TopicPartition

from pipeline.errors import RetryableError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.startup import Stopped, retry_until_stopped

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes


class Processor(Protocol):
    def process(self, msg: Message) -> Sequence[Output]:
        """Outputs for one input record; must not raise for a bad record. A ``RetryableError``
        (a dependency such as the schema registry unreachable) makes the stage retry the
        record, with backoff, before anything of the batch is produced or committed."""
        ...


@dataclass
class StageStats:
    consumed: int = 0
    produced: int = 0
    batches: int = 0
    retries: int = 0
    commits: int = 0
    last_commit: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass(frozen=True)
class StageConfig:
    group_id: str
    topics: Sequence[str]  # names, or regexes starting with ^
    batch_size: int = 1000
    batch_timeout_s: float = 0.1
    delivery_timeout_s: float = 30.0
    linger_ms: int = 5
    compression: str = "zstd"


class BatchStage:
    """Run ``processor`` over ``config.topics`` until ``stop()`` is called."""

    def __init__(
        self,
        conn: KafkaConnection,
        config: StageConfig,
        processor: Processor,
        *,
        on_batch: Callable[[StageStats], None] | None = None,
    ) -> None:
        self.config = config
        self.processor = processor
        self.stats = StageStats()
        self._on_batch = on_batch
        self._stop = threading.Event()
        # the session timeout (how soon a killed worker's partitions move on) is the
        # connection's, like every consumer's
        self._consumer = clients.consumer(
            conn,
            config.group_id,
            {
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
            },
            logger=clients.LIBRDKAFKA_LOGGER,
        )
        self._producer = clients.producer(
            conn,
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": config.linger_ms,
                "compression.type": config.compression,
            },
            logger=clients.LIBRDKAFKA_LOGGER,
        )

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> StageStats:
        self._consumer.subscribe(list(self.config.topics))
        try:
            while not self._stop.is_set():
                self.run_once()
        except Stopped:
            pass  # the batch in hand was neither produced nor committed: it is re-delivered
        finally:
            self._producer.flush(self.config.delivery_timeout_s)
            self._consumer.close()
        return self.stats

    def run_once(self) -> int:
        """One batch; returns how many input records it handled."""
        records = [m for m in self._next_batch() if not _skip(m)]
        if not records:
            return 0
        outputs: list[Output] = []
        for msg in records:
            outputs.extend(self._process(msg))
        self._deliver(outputs)
        self._commit(records)
        self.stats.consumed += len(records)
        self.stats.produced += len(outputs)
        self.stats.batches += 1
        if self._on_batch is not None:
            self._on_batch(self.stats)
        return len(records)

    def _process(self, msg: Message) -> Sequence[Output]:
        """The processor's outputs for ``msg``, retried while a dependency is unavailable (a
        registry outage once dead-lettered good records or crashed the worker, found by the
        e2e run). The consumer keeps its place: nothing after this record is committed first."""

        def counted() -> None:
            self.stats.retries += 1

        return retry_until_stopped(
            lambda: self.processor.process(msg),
            (RetryableError,),
            self._stop,
            what="a record's dependency",
            on_retry=counted,
        )

    def _next_batch(self) -> list[Message]:
        """Whatever the consumer has already fetched, up to ``batch_size``; when it has
        nothing, wait up to ``batch_timeout_s`` for the first record and take what came with
        it. A record never waits for a batch to fill: under load batches are full, at a trickle
        they are small and the latency is one loop (measured in benchmarks/scrub.py)."""
        size = self.config.batch_size
        msgs = self._consumer.consume(size, 0)
        if msgs:
            return msgs
        first = self._consumer.consume(1, self.config.batch_timeout_s)
        if not first or size == 1:
            return first
        return first + self._consumer.consume(size - 1, 0)

    def _deliver(self, outputs: list[Output]) -> None:
        """Produce all outputs and return only when every one is acknowledged."""
        pending = outputs
        attempt = 0
        while pending:
            failed: list[Output] = []

            def on_delivery(
                err: KafkaError | None, msg: Message, failed: list[Output] = failed
            ) -> None:
                # one callback per batch (not a closure per record); a failed record is rebuilt
                # from the delivery report, which carries its topic, key and value
                if err is not None:
                    failed.append(Output(msg.topic() or "", msg.key(), msg.value() or b""))

            for out in pending:
                self._produce(out, on_delivery)
            deadline = time.monotonic() + self.config.delivery_timeout_s
            while len(self._producer) and time.monotonic() < deadline:
                self._producer.poll(0.05)
            if len(self._producer):
                # not acknowledged in time: purge (their reports say so) and retry them
                self._producer.purge(in_queue=True, in_flight=True, blocking=True)
                while len(self._producer):
                    self._producer.poll(0.1)
            if failed:
                attempt += 1
                self.stats.retries += len(failed)
                log.warning(
                    "outputs not acknowledged; retrying before any commit",
                    extra={"failed": len(failed), "attempt": attempt},
                )
                time.sleep(min(5.0, 0.2 * 2**attempt))
            pending = failed

    def _produce(self, out: Output, cb: Callable[[KafkaError | None, Message], None]) -> None:
        while True:
            try:
                self._producer.produce(out.topic, value=out.value, key=out.key, on_delivery=cb)
                return
            except BufferError:
                self._producer.poll(0.05)

    def _commit(self, records: list[Message]) -> None:
        offsets: dict[tuple[str, int], int] = {}
        for m in records:
            tp = (m.topic() or "", m.partition() or 0)
            offsets[tp] = max(offsets.get(tp, -1), (m.offset() or 0) + 1)
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        if not clients.commit(self._consumer, tps):
            return  # partitions revoked in a rebalance: the records will be re-delivered
        self.stats.commits += 1
        self.stats.last_commit.update(offsets)


def _skip(msg: Message) -> bool:
    err = msg.error()
    if err is None:
        return False
    if err.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer error", extra={"error": err.str()})
    return True


def describe(stats: StageStats) -> dict[str, Any]:
    return {
        "consumed": stats.consumed,
        "produced": stats.produced,
        "batches": stats.batches,
        "retries": stats.retries,
        "commits": stats.commits,
    }
