"""Kafka for asyncio loops and compacted topics: an awaitable idempotent producer, reading a
compacted topic to its end and following it (the router's silences and state).

confluent-kafka (librdkafka) rather than aiokafka/faust, like the sanitizer's stage: the router
must order "state durable, then offsets committed, then deliver" explicitly (see ``stage``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, KafkaError, Message, TopicPartition

from pipeline.errors import RetryableError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection

log = logging.getLogger(__name__)

#: the largest record the router writes, uncompressed (the state topic takes 16 MiB compressed,
#: see ``pipeline.kafka.topics``)
MAX_RECORD_BYTES = 64 * 1024 * 1024


class AsyncProducer:
    """``await send(...)`` returns once the broker acknowledged the record (acks=all)."""

    def __init__(self, conn: KafkaConnection, *, linger_ms: int = 2) -> None:
        self._producer = clients.producer(
            conn,
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": linger_ms,
                "compression.type": "zstd",
                # a partition's state is one record: allow large ones (they compress ~10x)
                "message.max.bytes": MAX_RECORD_BYTES,
            },
            logger=logging.getLogger("pipeline.route.librdkafka"),
        )
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="router-producer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done(err: KafkaError | None, _msg: Message) -> None:
            def settle() -> None:
                if fut.done():
                    return
                if err is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(RetryableError(f"produce to {topic} failed: {err.str()}"))

            loop.call_soon_threadsafe(settle)

        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=done)
                break
            except BufferError:
                await asyncio.sleep(0.05)
        await fut

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._closed.set()
        self._poller.join(timeout=2)


def read_to_end(
    conn: KafkaConnection, topic: str, timeout: float = 30.0
) -> Iterator[tuple[bytes, bytes | None]]:
    """Every (key, value) of ``topic`` from the beginning to its end at call time, in order per
    partition (a compacted topic: the last value of a key wins; ``None`` is a tombstone)."""
    consumer = clients.consumer(
        conn,
        f"auditpipe-reader-{uuid.uuid4().hex[:8]}",
        {"enable.auto.commit": False, "enable.partition.eof": True},
    )
    try:
        md = consumer.list_topics(topic, timeout=timeout)
        meta = md.topics.get(topic)
        if meta is None or meta.error is not None:
            raise RetryableError(f"topic {topic} is not available")
        tps = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout)[1]
            for p in meta.partitions
        }
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign(tps)
        while todo:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    todo.discard(msg.partition() or 0)
                    continue
                raise RetryableError(f"reading {topic}: {err.str()}")
            part, offset = msg.partition() or 0, msg.offset() or 0
            yield msg.key() or b"", msg.value()
            if offset + 1 >= ends[part]:
                todo.discard(part)
    finally:
        consumer.close()


class TopicTail:
    """Follows a compacted topic from its beginning, without a consumer group (every router
    instance sees every record). ``poll()`` never blocks."""

    def __init__(self, conn: KafkaConnection, topic: str) -> None:
        self.topic = topic
        self._consumer = clients.consumer(
            conn, f"auditpipe-tail-{uuid.uuid4().hex[:8]}", {"enable.auto.commit": False}
        )
        md = self._consumer.list_topics(topic, timeout=30)
        meta = md.topics.get(topic)
        if meta is None or meta.error is not None:
            raise RetryableError(f"topic {topic} is not available")
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])

    def poll(self, max_records: int = 500) -> list[tuple[bytes, bytes | None]]:
        out = []
        for msg in self._consumer.consume(max_records, 0):
            if msg.error() is None:
                out.append((msg.key() or b"", msg.value()))
        return out

    def close(self) -> None:
        self._consumer.close()
