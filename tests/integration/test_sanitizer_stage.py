"""The streaming sanitizer on the real stack: raw → audit.events with no seeded PII left,
bad input → encrypted DLQ with reasons, and a kill -9 mid-run loses nothing."""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.events.dlq import DlqKey, decrypt_raw
from pipeline.events.schemas import DLQ_ENVELOPE
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator, seeded_values
from pipeline.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _read(conn: KafkaConnection, topic: str, until: int, timeout_s: float) -> Iterator[bytes]:
    consumer = clients.consumer(conn, f"t-{uuid.uuid4()}", {"auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    n = 0
    deadline = time.monotonic() + timeout_s
    try:
        while n < until and time.monotonic() < deadline:
            for msg in consumer.consume(2000, 0.5):
                if msg.error() is None and msg.value() is not None:
                    n += 1
                    yield msg.value()  # type: ignore[misc]
    finally:
        consumer.close()


def _start_worker(env: dict[str, str], group: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli.main",
            "run",
            "sanitizer",
            "--group",
            group,
            "--batch-size",
            "500",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sanitizer_end_to_end_with_kill_9(
    stack: Settings, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    raw_topic, events_topic, dlq_topic = f"t{run}.raw.svc", f"t{run}.events", f"t{run}.dlq"
    dlq_key = secrets.token_hex(32)
    env = {
        **os.environ,
        "AUDITPIPE_TOPICS__RAW_PATTERN": rf"^t{run}\.raw\..*",
        "AUDITPIPE_TOPICS__EVENTS": events_topic,
        "AUDITPIPE_TOPICS__DLQ": dlq_topic,
        "AUDITPIPE_DLQ_KEY": dlq_key,
        "AUDITPIPE_HMAC_KEY": secrets.token_hex(32),
        "AUDITPIPE_LOG_LEVEL": "WARNING",
    }
    ensure_topics(kafka_conn, [TopicSpec(raw_topic, 3)])
    n, bad = 50_000, 25
    seeded: set[str] = set()
    ids: set[str] = set()
    config = ProducerConfig(
        kafka=kafka_conn,
        registry_url=stack.registry_url,
        service="pii-source",
        topic=raw_topic,
        spool_dir=tmp_path / "spool",
    )
    with AuditProducer(config) as producer:
        for doc in itertools.islice(EventGenerator(seed=42).events(), n):
            seeded |= seeded_values(doc)
            ids.add(producer.emit_event(doc))
        assert producer.flush(60) == 0
    garbage = clients.producer(kafka_conn)
    for i in range(bad):
        garbage.produce(raw_topic, value=f"not an event, card 4111 1111 1111 1111 #{i}".encode())
    assert garbage.flush(30) == 0
    assert len(seeded) > 100

    group = f"sanitizer-{run}"
    worker = _start_worker(env, group)
    try:
        # kill -9 mid-run, then start again
        seen_ids: set[str] = set()
        events_serde = AvroSerde(registry_client(stack.registry_url))
        deadline = time.monotonic() + 120
        for value in _read(kafka_conn, events_topic, n // 3, 120):
            seen_ids.add(events_serde.deserialize(value, events_topic)["event_id"])
            if time.monotonic() > deadline:
                break
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        worker = _start_worker(env, group)

        blob = bytearray()
        out_ids: list[str] = []
        # at-least-once: the kill -9 replays some events, so read until every id has come out
        # (counting messages would stop early by the number of duplicates)
        for value in _read(kafka_conn, events_topic, 10 * n, 300):
            blob += value
            out_ids.append(events_serde.deserialize(value, events_topic)["event_id"])
            if len(out_ids) >= n and ids <= set(out_ids):
                break
        lost = ids - set(out_ids)
        assert not lost, f"lost {len(lost)} of {n} events, e.g. {sorted(lost)[:5]}"
        assert set(out_ids) <= ids, "events that were never produced came out"
        leaked = sorted(v for v in seeded if v.encode() in blob)
        assert leaked == [], f"{len(leaked)} seeded values leaked into {events_topic}"

        dlq_serde = AvroSerde(registry_client(stack.registry_url), DLQ_ENVELOPE)
        letters: list[dict[str, Any]] = []
        sources: set[tuple[int, int]] = set()
        for value in _read(kafka_conn, dlq_topic, 10 * bad, 60):  # duplicates possible, as above
            letters.append(dlq_serde.deserialize(value, dlq_topic))
            sources.add((letters[-1]["source_partition"], letters[-1]["source_offset"]))
            if len(sources) >= bad:
                break
        assert len(sources) == bad
        key = {"dlq-k1": DlqKey("dlq-k1", bytes.fromhex(dlq_key))}
        for letter in letters:
            assert letter["error_type"] == "DeserializationError"
            assert letter["reason"]
            assert b"4111" not in letter["raw"]
            assert decrypt_raw(key, letter).startswith(b"not an event")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        delete_topics(kafka_conn, [raw_topic, events_topic, dlq_topic])
