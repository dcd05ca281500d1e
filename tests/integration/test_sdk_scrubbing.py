"""App-side scrubbing: personal data handed to the SDK never reaches ``audit.raw.*`` on the
real broker (the raw record bytes, key and value, are searched for every seeded value)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.scrub import ScrubKeys
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

KEYS = ScrubKeys({"k1": b"\x07" * 32}, "k1")
SEEDED = {
    "email": "alice.martin@example.com",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "phone": "+49 30 901820",
    "cpf": "111.444.777-35",
    "password": "hunter2!Xy",
    "token": "ghp_" + "a1B2" * 9,
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "ip": "203.0.113.77",
    "actor": "bob.jones@example.org",
}


def _config(stack: Settings, tmp_path: Path, topic: str, **over: Any) -> ProducerConfig:
    return ProducerConfig(
        kafka=KafkaConnection(bootstrap_servers=stack.kafka_bootstrap, client_id="sdk-scrub"),
        registry_url=stack.registry_url,
        service="sdk-scrub",
        environment="test",
        topic=topic,
        spool_dir=tmp_path / "spool",
        **over,
    )


def _emit_seeded(producer: AuditProducer, i: int) -> None:
    producer.emit(
        category="DATA_ACCESS",
        action="export",
        actor={
            "id": SEEDED["actor"],
            "type": "user",
            "ip": SEEDED["ip"],
            "user_agent": f"curl/8 (contact {SEEDED['email']})",
        },
        target={"type": "report", "id": f"report for {SEEDED['email']}"},
        http={"method": "POST", "path": f"/v1/pay?card={SEEDED['card'].replace(' ', '')}"},
        details={
            "note": f"refund to {SEEDED['iban']}, call {SEEDED['phone']}, CPF {SEEDED['cpf']}",
            "request": f'{{"password": "{SEEDED["password"]}", "n": {i}}}',
            "headers": f"Authorization: token {SEEDED['token']}",
            "config": f"aws key {SEEDED['aws']}",
            "password": SEEDED["password"],
        },
    )


def _records(conn: KafkaConnection, topic: str, expected: int) -> Iterator[tuple[bytes, bytes]]:
    consumer = clients.consumer(
        conn,
        f"sdk-scrub-{uuid.uuid4()}",
        {"auto.offset.reset": "earliest", "enable.auto.commit": False},
    )
    consumer.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 60
    try:
        while got < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                assert msg.error() is None, msg.error()
                got += 1
                yield msg.key() or b"", msg.value() or b""
    finally:
        consumer.close()
    assert got == expected


def _leaks(raw: bytes) -> set[str]:
    text = raw.decode("utf-8", "replace")
    found = {name for name, value in SEEDED.items() if value in text}
    if "4111111111111111" in text:
        found.add("card")
    return found


def test_personal_data_handed_to_the_sdk_never_reaches_the_raw_topic(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.sdkscrub", partitions=2)
    n = 50
    with AuditProducer(_config(stack, tmp_path, topic), scrub_keys=KEYS) as producer:
        for i in range(n):
            _emit_seeded(producer, i)
        assert producer.flush(30) == 0
    serde = AvroSerde(registry_client(stack.registry_url))
    records = list(_records(kafka_conn, topic, n))
    for key, value in records:
        assert _leaks(key) == set()
        assert _leaks(value) == set()
    datum = serde.deserialize(records[0][1], topic)
    assert datum["actor"]["id"].startswith("ps:k1:")  # the sanitizer's own pseudonym
    assert datum["actor"]["ip"] == "203.0.113.0"
    assert datum["details"]["password"] == "[secret]"
    assert datum["pipeline"] is None  # the sanitizer's block stays empty


def test_without_a_key_every_other_treatment_still_applies(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.sdkscrub", partitions=1)
    with AuditProducer(_config(stack, tmp_path, topic)) as producer:
        _emit_seeded(producer, 0)
    [(key, value)] = list(_records(kafka_conn, topic, 1))
    assert _leaks(value) == {"actor"}  # left for the sanitizer, which holds the key
    assert key == SEEDED["actor"].encode()


def test_a_producer_can_opt_out(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.sdkscrub", partitions=1)
    with AuditProducer(_config(stack, tmp_path, topic, scrub=False)) as producer:
        _emit_seeded(producer, 0)
    [(_key, value)] = list(_records(kafka_conn, topic, 1))
    assert {"email", "iban", "password", "token"} <= _leaks(value)  # the check sees raw values
