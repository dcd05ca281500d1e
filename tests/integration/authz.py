"""Principals of the local stack's secured listener, and one real attempt per helper
(produce, consume, describe) for the authorization and break-glass tests."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition

from pipeline.kafka import acls, clients
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.secured import connection_from_properties
from pipeline.kafka.topics import pipeline_topics
from pipeline.settings import Settings
from pipeline.stack.secure import SecureFiles
from pipeline.stack.services import port_open

ACL_FILE = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "acls.yaml"
DENIED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}


class Principals:
    def __init__(self, files: SecureFiles) -> None:
        self.files = files

    def conn(self, principal: str, **update: Any) -> KafkaConnection:
        """The principal's connection (``update``: fields to change, e.g. a wrong password)."""
        path = self.files.client_properties(principal)
        conn = connection_from_properties(path, f"authz-{principal}")
        return conn.model_copy(update=update) if update else conn


def open_principals(stack: Settings, kafka_conn: KafkaConnection) -> Principals:
    """The local stack's secured listener, with the shipped ACL file applied."""
    if stack.uses_external_services:
        pytest.skip("authorization tests need the local stack's secured listener")
    files = SecureFiles.of(stack.stack)
    admin_props = files.client_properties("admin")
    if not admin_props.is_file() or not port_open(stack.stack.host, stack.stack.kafka_secure_port):
        pytest.fail(
            "the running stack has no SASL_SSL listener (started before it existed?): "
            "`auditpipe stack down && auditpipe stack up`"
        )
    ensure_topics(kafka_conn, pipeline_topics(stack))
    admin = clients.admin(connection_from_properties(admin_props, "authz-admin"))
    wanted = acls.load_file(ACL_FILE)
    acls.apply_plan(admin, acls.plan(wanted, acls.current_acls(admin)))
    assert acls.plan(wanted, acls.current_acls(admin)).in_sync
    return Principals(files)


# --- helpers: one real attempt each ------------------------------------------------------------


def produce(conn: KafkaConnection, topic: str, timeout: float = 20.0) -> KafkaError | None:
    """Produce one record; the delivery error, or None when the broker took it."""
    outcome: list[KafkaError | None] = []
    producer = clients.producer(conn, {"message.timeout.ms": int(timeout * 1000)})
    producer.produce(
        topic, b"authz-probe", key=b"k", on_delivery=lambda err, _msg: outcome.append(err)
    )
    producer.flush(timeout + 5)
    assert outcome, "no delivery report"
    return outcome[0]


def consume(
    conn: KafkaConnection, topic: str, group: str, *, timeout: float = 20.0
) -> KafkaError | bytes:
    """Subscribe from the beginning; the first record's value, ``b""`` at the end of an empty
    partition (the fetch was allowed), or the first error."""
    consumer = clients.consumer(
        conn,
        group,
        {
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        },
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                return b"" if err.code() == KafkaError._PARTITION_EOF else err
            return msg.value() or b""
        raise AssertionError(f"neither a record nor an error from {topic} in {timeout}s")
    finally:
        consumer.close()


def authorized_ops(conn: KafkaConnection, topic: str) -> set[str]:
    """What the broker says this principal may do on ``topic`` (KIP-430)."""
    admin = clients.admin(conn)
    futures = admin.describe_topics(
        TopicCollection([topic]), include_authorized_operations=True, request_timeout=20
    )
    try:
        desc = futures[topic].result(timeout=20)
    except KafkaException as exc:
        err = exc.args[0]
        if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            return set()
        raise
    return {op.name.lower() for op in desc.authorized_operations or []}


def assert_denied(result: KafkaError | bytes | None) -> None:
    assert isinstance(result, KafkaError), f"the broker allowed it: {result!r}"
    assert result.code() in DENIED, result


def end_offsets(conn: KafkaConnection, topic: str) -> dict[int, int]:
    """Each partition's end offset, looked up as ``conn``'s principal (an ``analyst-`` group
    name: nothing is joined or committed)."""
    consumer = clients.consumer(conn, f"analyst-{uuid.uuid4().hex[:8]}")
    try:
        parts = consumer.list_topics(topic, timeout=20).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
            for p in parts
        }
    finally:
        consumer.close()
