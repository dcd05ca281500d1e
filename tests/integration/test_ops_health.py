"""Readiness and lag from the broker's view of a consumer group, on the real local stack."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.ops.probe import GroupProbe

pytestmark = pytest.mark.integration


def _until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_group_probe_ready_lag_and_stall(
    kafka_conn: KafkaConnection, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("ops", partitions=2)
    group = f"ops-{uuid.uuid4().hex[:8]}"
    registry = CollectorRegistry()
    now = [0.0]
    probe = GroupProbe(kafka_conn, group, registry, clock=lambda: now[0])
    assert not probe.check().ok, "no member yet"

    producer = clients.producer(kafka_conn)
    for i in range(10):
        producer.produce(topic, key=b"k", value=str(i).encode())
    producer.flush(10)

    consumer = clients.consumer(
        kafka_conn, group, {"auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    try:
        first = None
        while first is None or first.error():
            first = consumer.poll(1.0)
        consumer.commit(first, asynchronous=False)  # one of ten committed: lag 9
        assert _until(lambda: probe.check().ok)
        assert "partitions assigned" in probe.check().reason
        lags = {
            s.labels["partition"]: s.value
            for m in registry.collect()
            if m.name == "auditpipe_consumer_lag"
            for s in m.samples
        }
        assert sum(lags.values()) == 9

        now[0] = 500.0  # nothing committed since, with lag: stalled for 500 s
        probe.check()
        assert probe.stalled_for() == 500.0
        partition = first.partition()
        consumer.commit(
            offsets=[TopicPartition(topic, partition, first.offset() + 10)], asynchronous=False
        )
        probe.check()
        assert probe.stalled_for() == 0.0
    finally:
        consumer.close()


def test_unreachable_broker_is_not_ready() -> None:
    conn = KafkaConnection(bootstrap_servers="127.0.0.1:1", client_id="ops-test")
    registry = CollectorRegistry()
    probe = GroupProbe(conn, "g", registry, timeout_s=1.0)
    verdict = probe.check()
    assert not verdict.ok
    assert "unreachable" in verdict.reason
    assert registry.get_sample_value("auditpipe_ready", {"group": "g"}) == 0.0
