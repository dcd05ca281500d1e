"""Readiness goes false while the broker is stopped and true again after it returns.

The broker is a Kafka of this test's own (the stack's jars, a temp home, free ports), so
stopping it leaves the shared stack alone."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.ops.probe import GroupProbe
from pipeline.settings import Settings
from pipeline.stack import procs
from pipeline.stack.config import StackConfig
from pipeline.stack.services import KafkaService

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def private_kafka(stack: Settings, tmp_path: Path) -> Iterator[KafkaService]:
    shared_lib = stack.stack.kafka_lib_dir
    if not any(shared_lib.glob("*.jar")):
        pytest.skip(f"no Kafka jars in {shared_lib} (auditpipe stack fetch)")
    cfg = StackConfig(
        home=tmp_path / "stack",
        kafka_port=_free_port(),
        kafka_controller_port=_free_port(),
        kafka_secure_port=_free_port(),  # its own SASL_SSL listener too: 9094 is the stack's
        kafka_heap="256m",
    )
    cfg.kafka_lib_dir.parent.mkdir(parents=True)
    cfg.kafka_lib_dir.symlink_to(shared_lib)
    svc = KafkaService(cfg)
    svc.prepare()
    procs.start(svc.spec())
    try:
        assert _until(lambda: svc.health().ok, 90), procs.tail(svc.spec().log_file)
        yield svc
    finally:
        procs.stop(svc.spec())


def test_readiness_follows_the_broker(private_kafka: KafkaService) -> None:
    cfg = private_kafka.cfg
    conn = KafkaConnection(bootstrap_servers=cfg.bootstrap_servers, client_id="outage-test")
    topic, group = f"outage.{uuid.uuid4().hex[:8]}", f"outage-{uuid.uuid4().hex[:8]}"
    ensure_topics(conn, [TopicSpec(topic, partitions=2)])
    stop = threading.Event()

    def consume() -> None:  # a stage's consumer: polls all along, through the outage
        consumer = clients.consumer(conn, group)
        consumer.subscribe([topic])
        while not stop.is_set():
            consumer.poll(0.2)
        consumer.close()

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    probe = GroupProbe(conn, group, CollectorRegistry(), timeout_s=2.0)
    try:
        assert _until(lambda: probe.check().ok, 60), probe.check()
        procs.stop(private_kafka.spec())
        verdict = probe.check()
        assert not verdict.ok
        assert "unreachable" in verdict.reason
        procs.start(private_kafka.spec())
        assert _until(lambda: probe.check().ok, 120), probe.check()
    finally:
        stop.set()
        worker.join(30)
