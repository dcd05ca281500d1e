"""The real broker: an idempotent producer's events are all read back, in order per key."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, Message

from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection

pytestmark = pytest.mark.integration


def test_broker_is_kraft_single_node(kafka_conn: KafkaConnection) -> None:
    md = clients.admin(kafka_conn).list_topics(timeout=10)
    assert len(md.brokers) >= 1
    assert md.controller_id in md.brokers or md.controller_id == -1


def test_produce_and_consume_round_trip(
    kafka_conn: KafkaConnection, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=3)
    producer = clients.producer(kafka_conn, {"enable.idempotence": True, "acks": "all"})
    errors: list[KafkaError] = []
    acked: list[tuple[int, int]] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            acked.append((msg.partition() or 0, msg.offset() or 0))

    sent = []
    for i in range(300):
        key = f"actor-{i % 7}"
        value = f"{key}:{i}:{uuid.uuid4()}"
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        sent.append((key, value))
    assert producer.flush(30) == 0
    assert errors == []
    assert len(acked) == 300

    consumer = clients.consumer(
        kafka_conn,
        f"test-{uuid.uuid4()}",
        {"auto.offset.reset": "earliest", "enable.auto.commit": False},
    )
    consumer.subscribe([topic])
    got: list[tuple[str, str]] = []
    try:
        for _ in range(200):
            if len(got) >= len(sent):
                break
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                assert msg.error() is None
                got.append((msg.key().decode(), msg.value().decode()))  # type: ignore[union-attr]
    finally:
        consumer.close()
    assert sorted(got) == sorted(sent)
    # order is kept per key (one key, one partition)
    for key in {k for k, _ in sent}:
        assert [v for k, v in got if k == key] == [v for k, v in sent if k == key]
