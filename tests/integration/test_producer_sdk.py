"""The producer SDK against the real broker and registry."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InvalidEventError
from pipeline.events import context, jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.producer import PENDING_HEADER, PENDING_SCHEMA_MARK
from pipeline.produce.spool import Spool, SpooledRecord
from pipeline.settings import Settings
from pipeline.stack import manager, procs
from pipeline.stack.services import KafkaService

pytestmark = pytest.mark.integration
SCHEMA = parsed_schema(AUDIT_EVENT)


def _config(stack: Settings, tmp_path: Path, topic: str, **over: Any) -> ProducerConfig:
    base: dict[str, Any] = {
        "kafka": clients.connection(stack, "sdk-test"),
        "registry_url": stack.registry_url,
        "service": "sdk-test",
        "environment": "test",
        "topic": topic,
        "spool_dir": tmp_path / "spool",
    }
    return ProducerConfig(**{**base, **over})


def _event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"e-{i}-{uuid.uuid4()}",
        "ts": f"2026-11-01T10:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1_000_000:06d}Z",
        "service": "sdk-test",
        "environment": "test",
        "category": ["AUTHN", "AUTHZ", "DATA_ACCESS", "ADMIN"][i % 4],
        "action": ["login", "access.check", "export", "role.grant"][i % 4],
        "outcome": ["SUCCESS", "FAILURE", "DENIED", "ERROR"][i % 4],
        "actor": {"id": f"user-{i % 500}", "type": "user", "roles": ["r"] * (i % 3)},
        "http": {"method": "GET", "path": f"/v1/items/{i}", "status": 200 + i % 300},
        "request_id": f"req-{i}",
        "details": {"n": str(i), "note": "ünïcødé ✓"},
    }


def _consume_all(
    conn: KafkaConnection, topic: str, expected: int, timeout_s: float = 120
) -> Iterator[tuple[bytes | None, bytes]]:
    consumer = clients.consumer(
        conn,
        f"sdk-test-{uuid.uuid4()}",
        {"auto.offset.reset": "earliest", "enable.auto.commit": False},
    )
    consumer.subscribe([topic])
    got = 0
    deadline = time.monotonic() + timeout_s
    idle_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(num_messages=2000, timeout=0.5)
            if not batch:
                if got >= expected and time.monotonic() - idle_since > 2:
                    return
                continue
            idle_since = time.monotonic()
            for msg in batch:
                assert msg.error() is None, msg.error()
                value = msg.value()
                assert value is not None
                got += 1
                yield msg.key(), value
    finally:
        consumer.close()


def test_100k_events_all_consumed_back_exactly(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.sdk", partitions=3)
    n = 100_000
    expected: dict[str, dict[str, Any]] = {}
    with AuditProducer(_config(stack, tmp_path, topic)) as producer:
        for i in range(n):
            doc = _event(i)
            event_id = producer.emit_event(doc)
            expected[event_id] = jsonform.to_json(SCHEMA, jsonform.from_json(SCHEMA, doc))
        assert producer.flush(60) == 0
        stats = producer.stats()
    assert stats.emitted == n
    assert stats.delivered == n
    assert stats.spooled == 0

    serde = AvroSerde(registry_client(stack.registry_url))
    seen: dict[str, dict[str, Any]] = {}
    for key, value in _consume_all(kafka_conn, topic, n):
        datum = serde.deserialize(value, topic)
        assert key == datum["actor"]["id"].encode()  # keyed by actor
        seen[datum["event_id"]] = jsonform.to_json(SCHEMA, datum)
    assert len(seen) == n
    assert seen == expected


def test_event_without_category_is_refused_at_emit(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.sdk")
    with AuditProducer(_config(stack, tmp_path, topic)) as producer:
        with pytest.raises(InvalidEventError, match=r"^category: is required"):
            producer.emit(action="login", actor={"id": "u1", "type": "user"})
        with pytest.raises(InvalidEventError, match=r"^actor: is required"):
            producer.emit(category="AUTHN", action="login")
        assert producer.stats().emitted == 0


def test_context_fills_request_and_trace_ids(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.sdk", partitions=1)
    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with AuditProducer(_config(stack, tmp_path, topic)) as producer:
        with context.audit_context(request_id="req-ctx", traceparent=header):
            producer.emit(category="AUTHN", action="login", actor={"id": "u1", "type": "user"})
        producer.emit(category="AUTHN", action="logout", actor={"id": "u1", "type": "user"})
    serde = AvroSerde(registry_client(stack.registry_url))
    events = [serde.deserialize(v, topic) for _, v in _consume_all(kafka_conn, topic, 2, 30)]
    assert [e["action"] for e in events] == ["login", "logout"]
    assert events[0]["request_id"] == "req-ctx"
    assert events[0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert events[0]["span_id"] == "00f067aa0ba902b7"
    assert events[1]["trace_id"] is None
    assert events[1]["request_id"] not in (None, "", "req-ctx")
    assert events[0]["service"] == "sdk-test"
    assert events[0]["environment"] == "test"


def test_broker_stopped_mid_run_loses_nothing(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    if stack.uses_external_services:
        pytest.skip("stopping the broker needs the local stack")
    topic = topic_factory("audit.raw.sdk", partitions=3)
    kafka = KafkaService(stack.stack)
    cfg = _config(
        stack,
        tmp_path,
        topic,
        message_timeout_ms=4000,
        block_timeout_s=0.01,
        queue_max_messages=500,
    )
    ids: list[str] = []
    with AuditProducer(cfg) as producer:
        for i in range(1000):
            ids.append(producer.emit_event(_event(i)))
        assert producer.flush(30) == 0

        procs.stop(kafka.spec())  # the broker goes away mid-run
        t0 = time.monotonic()
        for i in range(1000, 3000):
            ids.append(producer.emit_event(_event(i)))
        emit_while_down_s = time.monotonic() - t0
        time.sleep(5)  # queued records time out and go to the spool
        assert producer.stats().spool_pending > 0

        manager.up(stack.stack)  # the broker comes back
        for i in range(3000, 3500):
            ids.append(producer.emit_event(_event(i)))
        assert producer.flush(90) == 0
        deadline = time.monotonic() + 60
        while producer.stats().spool_pending and time.monotonic() < deadline:
            time.sleep(0.2)
        stats = producer.stats()

    assert emit_while_down_s < 2000 * 0.05, "emit must not block while the broker is down"
    assert stats.spooled > 0
    assert stats.spool_pending == 0
    assert stats.replayed == stats.spooled  # every spooled record was re-produced
    serde = AvroSerde(registry_client(stack.registry_url))
    seen = [
        serde.deserialize(v, topic)["event_id"] for _, v in _consume_all(kafka_conn, topic, 3500)
    ]
    lost = set(ids) - set(seen)
    assert not lost, f"lost {len(lost)} of {len(ids)} events, e.g. {sorted(lost)[:5]}"
    assert set(seen) <= set(ids), "events that were never emitted came out"


def test_registry_unreachable_at_emit_spools_and_sends_later(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    """A producer that never reached the registry spools its events (emit does not raise);
    one that reaches it sends them with the real schema id, the placeholder never on the
    topic. The registry "down" is a port nothing listens on, so the shared one stays up."""
    topic = topic_factory("audit.raw.sdk", partitions=3)
    with socket.socket() as s:  # a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    docs = [_event(i) for i in range(300)]
    with AuditProducer(_config(stack, tmp_path, topic, registry_url=dead)) as producer:
        ids = [producer.emit_event(doc) for doc in docs]
        producer.flush(5)
        down = producer.stats()
    assert down.emitted == down.spooled == down.schema_pending == len(docs)
    assert down.delivered == 0
    assert down.spool_pending == len(docs)

    with AuditProducer(_config(stack, tmp_path, topic)) as producer:  # same spool directory
        deadline = time.monotonic() + 60
        while producer.stats().spool_pending and time.monotonic() < deadline:
            producer.flush(1)
        up = producer.stats()
    assert up.spool_pending == 0
    assert up.replayed == len(docs)
    assert up.schema_pending == 0

    serde = AvroSerde(registry_client(stack.registry_url))
    seen: dict[str, dict[str, Any]] = {}
    for _key, value in _consume_all(kafka_conn, topic, len(docs)):
        assert not value.startswith(PENDING_HEADER)
        datum = serde.deserialize(value, topic)
        seen[datum["event_id"]] = jsonform.to_json(SCHEMA, datum)
    assert sorted(seen) == sorted(ids)
    for doc in docs:  # the spooled body decodes to the event as emitted
        assert seen[doc["event_id"]] == jsonform.to_json(SCHEMA, jsonform.from_json(SCHEMA, doc))


def _spool_while_registry_down(stack: Settings, tmp_path: Path, topic: str, n: int) -> list[str]:
    """``n`` events spooled for want of a schema id (the registry is a port nothing listens
    on); their event ids."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with AuditProducer(_config(stack, tmp_path, topic, registry_url=dead)) as producer:
        ids = [producer.emit_event(_event(i)) for i in range(n)]
        producer.flush(1)
        assert producer.stats().schema_pending == n
    return ids


def _drain(producer: AuditProducer) -> None:
    deadline = time.monotonic() + 60
    while producer.stats().spool_pending:
        assert time.monotonic() < deadline, producer.stats()
        producer.flush(0.5)


def test_spooled_records_that_can_never_be_sent_are_set_aside(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    """A spooled record written with another schema version, or whose body does not decode,
    is kept in ``<seq>.refused`` and counted, not sent and not retried for ever; the good
    records of the same segment are sent."""
    topic = topic_factory("audit.raw.sdk", partitions=1)
    ids = _spool_while_registry_down(stack, tmp_path, topic, 30)
    spool = Spool(tmp_path / "spool" / "sdk-test")
    [segment] = spool.segments()
    [good, *_] = spool.read_segment(segment)[0]
    assert good.value.startswith(PENDING_HEADER + PENDING_SCHEMA_MARK)
    fp_end = len(PENDING_HEADER + PENDING_SCHEMA_MARK) + 8
    other_schema = PENDING_HEADER + PENDING_SCHEMA_MARK + b"\x00" * 8 + good.value[fp_end:]
    garbage = PENDING_HEADER + b"\xff\xff\xff\xff\xff\xff\xff\xff\x01"
    spool.append(SpooledRecord(topic, b"k", other_schema))
    spool.append(SpooledRecord(topic, b"k", garbage))
    spool.close()

    with AuditProducer(_config(stack, tmp_path, topic)) as producer:
        _drain(producer)
        stats = producer.stats()
    assert stats.replayed == 30
    assert stats.spool_refused == 2
    [refused] = (tmp_path / "spool" / "sdk-test").glob("*.refused")
    assert [r.value for r in spool.read_segment(refused)[0]] == [other_schema, garbage]
    serde = AvroSerde(registry_client(stack.registry_url))
    sent = [serde.deserialize(v, topic)["event_id"] for _, v in _consume_all(kafka_conn, topic, 30)]
    assert sorted(sent) == sorted(ids)


def test_a_replay_the_registry_refuses_keeps_the_events_and_is_paced(
    stack: Settings,
    kafka_conn: KafkaConnection,
    topic_factory: Callable[..., str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A registry that answers but refuses (here a wrong API path: 404) keeps the spooled
    events on disk; ``flush`` does not raise and the replay is not tried on every call; with
    the right registry they are sent."""
    topic = topic_factory("audit.raw.sdk", partitions=1)
    ids = _spool_while_registry_down(stack, tmp_path, topic, 10)
    wrong = stack.registry_url.rstrip("/") + "/no-such-api"
    with (
        caplog.at_level(logging.ERROR, logger="pipeline.produce.producer"),
        AuditProducer(_config(stack, tmp_path, topic, registry_url=wrong)) as producer,
    ):
        deadline = time.monotonic() + 60
        while not (failed := [r for r in caplog.records if "replay failed" in r.getMessage()]):
            assert time.monotonic() < deadline
            producer.flush(0.2)
        for _ in range(20):  # each flush asks for a replay; the pace allows one every 2+ s
            producer.flush(0.05)
        failed = [r for r in caplog.records if "replay failed" in r.getMessage()]
        assert 1 <= len(failed) <= 3, len(failed)
        assert failed[0].__dict__["error"] == "SchemaRegistryError"
        assert producer.stats().spool_pending == 10
        assert producer.stats().replayed == 0
    with AuditProducer(_config(stack, tmp_path, topic)) as producer:
        _drain(producer)
        assert producer.stats().replayed == 10
    serde = AvroSerde(registry_client(stack.registry_url))
    sent = [serde.deserialize(v, topic)["event_id"] for _, v in _consume_all(kafka_conn, topic, 10)]
    assert sorted(sent) == sorted(ids)
