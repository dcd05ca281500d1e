"""The real stages under their own principals, with the shipped ACLs: the SDK writes as
``producer``, the sanitizer's stage runs as ``sanitizer`` (group ``auditpipe-sanitizer``) into
``audit.events``, and an archiver and the analyst read the scrubbed event back."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, TopicPartition
from pydantic import SecretStr

from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.stage import BatchStage, StageConfig, StageStats
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.sanitizer.build import build_scrub
from pipeline.sanitizer.runner import GROUP_ID, build_processor
from pipeline.settings import Settings
from tests.integration.authz import Principals, end_offsets

pytestmark = pytest.mark.integration


def _find(
    conn: KafkaConnection, group: str, topic: str, since: dict[int, int], serde: AvroSerde
) -> set[str]:
    """Event ids of ``topic`` after ``since``, read with ``group`` (nothing committed: the
    archivers' real groups keep their offsets)."""
    consumer = clients.consumer(conn, group, {"enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, o) for p, o in since.items()])
    ids: set[str] = set()
    eof: set[int] = set()
    try:
        while len(eof) < len(since):
            msg = consumer.poll(10)
            assert msg is not None, "no answer from the broker"
            err = msg.error()
            if err is not None:
                assert err.code() == KafkaError._PARTITION_EOF, err
                eof.add(msg.partition() or 0)
                continue
            ids.add(str(serde.deserialize(msg.value() or b"", topic)["event_id"]))
    finally:
        consumer.close()
    return ids


def test_sdk_sanitizer_archiver_and_analyst_under_their_principals(
    principals: Principals, stack: Settings, raw_topic: str, tmp_path: Path
) -> None:
    settings = stack.model_copy(
        update={
            "dlq_key": SecretStr(secrets.token_hex(32)),
            "hmac_key": SecretStr(secrets.token_hex(32)),
        }
    )
    events = settings.topics.events
    analyst = principals.conn("analyst")
    since = end_offsets(analyst, events)

    producer_conn = principals.conn("producer")
    config = ProducerConfig(
        kafka=producer_conn,
        registry_url=settings.registry_url,
        service="authz-test",
        topic=raw_topic,
        spool_dir=tmp_path / "spool",
    )
    with AuditProducer(config) as sdk:
        event_id = sdk.emit(
            category="AUTHN",
            action="login",
            actor={"id": "usr_000042", "type": "user"},
        )
        assert sdk.flush(30) == 0

    processor = build_processor(settings, build_scrub(settings))
    stage_conn = principals.conn("sanitizer")
    batches: list[StageStats] = []

    def one_batch(stats: StageStats) -> None:
        batches.append(stats)
        stage.stop()

    stage = BatchStage(
        stage_conn,
        StageConfig(group_id=GROUP_ID, topics=[raw_topic]),
        processor,
        on_batch=one_batch,
    )
    worker = threading.Thread(target=stage.run, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():
        stage.stop()
        worker.join(10)
        pytest.fail("the sanitizer handled no batch in 60s as its principal")
    assert batches[0].consumed == 1
    assert batches[0].produced == 1

    serde = AvroSerde(registry_client(settings.registry_url))
    archiver = principals.conn("archiver-us-east-1")
    assert event_id in _find(archiver, "auditpipe-archiver-us-east-1", events, since, serde)
    assert event_id in _find(analyst, f"analyst-{secrets.token_hex(4)}", events, since, serde)
