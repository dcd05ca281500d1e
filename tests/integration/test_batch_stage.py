"""BatchStage on the real broker: every input reaches the output before its offset is committed."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence

import pytest
from confluent_kafka import Message, TopicPartition

from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.stage import BatchStage, Output, StageConfig

pytestmark = pytest.mark.integration


class Upper:
    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic

    def process(self, msg: Message) -> Sequence[Output]:
        return [Output(self.out_topic, msg.key(), (msg.value() or b"").upper())]


def _read_all(conn: KafkaConnection, topic: str, n: int) -> list[bytes]:
    consumer = clients.consumer(conn, f"r-{uuid.uuid4()}", {"auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        for m in consumer.consume(1000, 0.5):
            if m.error() is None and m.value() is not None:
                got.append(m.value())  # type: ignore[arg-type]
    consumer.close()
    return got


def test_outputs_durable_then_offsets_committed(
    kafka_conn: KafkaConnection, topic_factory: Callable[..., str]
) -> None:
    src = topic_factory("stage.in", partitions=3)
    dst = topic_factory("stage.out", partitions=3)
    producer = clients.producer(kafka_conn)
    n = 5000
    for i in range(n):
        producer.produce(src, key=str(i % 11).encode(), value=f"event-{i}".encode())
    assert producer.flush(30) == 0

    group = f"stage-{uuid.uuid4()}"
    stage = BatchStage(
        kafka_conn, StageConfig(group_id=group, topics=[src], batch_size=500), Upper(dst)
    )
    thread = threading.Thread(target=stage.run)
    thread.start()
    deadline = time.monotonic() + 60
    while stage.stats.consumed < n and time.monotonic() < deadline:
        time.sleep(0.1)
    stage.stop()
    thread.join(30)
    assert stage.stats.consumed == n
    assert stage.stats.produced == n

    out = _read_all(kafka_conn, dst, n)
    assert sorted(out) == sorted(f"EVENT-{i}".encode() for i in range(n))

    # the group's committed offsets are the end of every partition
    probe = clients.consumer(kafka_conn, group)
    committed = probe.committed([TopicPartition(src, p) for p in range(3)], timeout=10)
    ends = [probe.get_watermark_offsets(TopicPartition(src, p), timeout=10)[1] for p in range(3)]
    probe.close()
    assert [tp.offset for tp in committed] == ends
    assert sum(ends) == n
