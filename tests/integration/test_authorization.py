"""Authorization on the real broker: each principal of ``deploy/kafka/acls.yaml`` can do its job
on the SASL_SSL listener, and the broker refuses everything else with an authorization error.

The ACL file is applied first (``acl apply``, as code), so these tests check the shipped file.
Refusals are real attempts (produce, subscribe, join a group); "can do its job" is a real
produce and read on a raw topic of the test's own, and, for the shared pipeline topics, the
broker's own answer of what the principal may do there (``describe_topics`` with
``include_authorized_operations``, KIP-430), so the tests write nothing into them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicCollection
from confluent_kafka.admin import AdminClient

from pipeline.kafka import acls
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.secured import client_config
from pipeline.kafka.topics import pipeline_topics
from pipeline.settings import Settings
from pipeline.stack.secure import SecureFiles
from pipeline.stack.services import port_open

pytestmark = pytest.mark.integration

ACL_FILE = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "acls.yaml"
DENIED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}


class Principals:
    def __init__(self, files: SecureFiles) -> None:
        self.files = files

    def conf(self, principal: str, **extra: Any) -> dict[str, Any]:
        return client_config(self.files.client_properties(principal), **extra)


@pytest.fixture(scope="session")
def principals(stack: Settings, kafka_conn: KafkaConnection) -> Principals:
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
    admin = AdminClient(client_config(admin_props))
    wanted = acls.load_file(ACL_FILE)
    acls.apply_plan(admin, acls.plan(wanted, acls.current_acls(admin)))
    assert acls.plan(wanted, acls.current_acls(admin)).in_sync
    return Principals(files)


@pytest.fixture
def raw_topic(kafka_conn: KafkaConnection) -> Iterator[str]:
    name = f"audit.raw.authz-{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_conn, [TopicSpec(name, partitions=1)])
    yield name
    delete_topics(kafka_conn, [name])


# --- helpers: one real attempt each ------------------------------------------------------------


def produce(conf: dict[str, Any], topic: str, timeout: float = 20.0) -> KafkaError | None:
    """Produce one record; the delivery error, or None when the broker took it."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**conf, "message.timeout.ms": int(timeout * 1000)})
    producer.produce(
        topic, b"authz-probe", key=b"k", on_delivery=lambda err, _msg: outcome.append(err)
    )
    producer.flush(timeout + 5)
    assert outcome, "no delivery report"
    return outcome[0]


def consume(
    conf: dict[str, Any], topic: str, group: str, *, timeout: float = 20.0
) -> KafkaError | bytes:
    """Subscribe from the beginning; the first record's value, ``b""`` at the end of an empty
    partition (the fetch was allowed), or the first error."""
    consumer = Consumer(
        {
            **conf,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
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


def authorized_ops(conf: dict[str, Any], topic: str) -> set[str]:
    """What the broker says this principal may do on ``topic`` (KIP-430)."""
    admin = AdminClient(conf)
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


# --- each principal can do its job --------------------------------------------------------------


def test_producer_writes_raw_and_sanitizer_reads_it(principals: Principals, raw_topic: str) -> None:
    assert produce(principals.conf("producer"), raw_topic) is None
    got = consume(principals.conf("sanitizer"), raw_topic, "auditpipe-sanitizer")
    assert got == b"authz-probe"


@pytest.mark.parametrize(
    ("principal", "topic", "ops"),
    [
        ("sanitizer", "audit.events", {"write"}),
        ("sanitizer", "audit.dlq", {"write"}),
        ("detector", "audit.events", {"read"}),
        ("detector", "audit.alerts", {"write"}),
        ("router", "audit.alerts", {"read"}),
        ("router", "audit.router.state", {"read", "write"}),
        ("router", "audit.router.by-rule", {"read", "write"}),
        ("router", "audit.silences", {"read"}),
        ("archiver-us-east-1", "audit.events", {"read"}),
        ("archiver-eu-central-1", "audit.events", {"read"}),
        ("analyst", "audit.events", {"read"}),
        ("analyst", "audit.alerts", {"read"}),
    ],
)
def test_each_stage_has_exactly_its_operations_on_its_topics(
    principals: Principals, principal: str, topic: str, ops: set[str]
) -> None:
    assert authorized_ops(principals.conf(principal), topic) - {"describe"} == ops


def test_analyst_reads_scrubbed_events_in_its_own_group(
    principals: Principals, kafka_conn: KafkaConnection
) -> None:
    got = consume(principals.conf("analyst"), "audit.events", f"analyst-{uuid.uuid4().hex[:8]}")
    assert isinstance(got, bytes), got  # a record, or the end of an empty partition


# --- the broker refuses -------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "audit.dlq"])
def test_producer_cannot_read(principals: Principals, topic: str) -> None:
    assert_denied(consume(principals.conf("producer"), topic, f"producer-{uuid.uuid4().hex}"))


@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "audit.dlq"])
def test_producer_cannot_write_outside_raw(principals: Principals, topic: str) -> None:
    assert_denied(produce(principals.conf("producer"), topic))


def test_analyst_cannot_read_raw(principals: Principals, raw_topic: str) -> None:
    assert_denied(consume(principals.conf("analyst"), raw_topic, f"analyst-{uuid.uuid4().hex}"))


def test_analyst_cannot_read_dlq(principals: Principals) -> None:
    group = f"analyst-{uuid.uuid4().hex}"
    assert_denied(consume(principals.conf("analyst"), "audit.dlq", group))


@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "audit.dlq", "RAW"])
def test_analyst_cannot_write_anywhere(principals: Principals, raw_topic: str, topic: str) -> None:
    assert_denied(produce(principals.conf("analyst"), raw_topic if topic == "RAW" else topic))


def test_detector_cannot_read_router_state(principals: Principals) -> None:
    conf = principals.conf("detector")
    assert_denied(consume(conf, "audit.router.state", "auditpipe-detector"))


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "RAW"])
def test_archiver_cannot_write(
    principals: Principals, raw_topic: str, region: str, topic: str
) -> None:
    conf = principals.conf(f"archiver-{region}")
    assert_denied(produce(conf, raw_topic if topic == "RAW" else topic))


def test_sanitizer_cannot_join_the_detectors_group(principals: Principals, raw_topic: str) -> None:
    # a topic the sanitizer may read, so only the group can be refused
    got = consume(principals.conf("sanitizer"), raw_topic, "auditpipe-detector")
    assert isinstance(got, KafkaError), got
    assert got.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, got


def test_break_glass_cannot_read_raw_or_dlq_while_closed(
    principals: Principals, raw_topic: str
) -> None:
    conf = principals.conf("break-glass")
    assert_denied(consume(conf, raw_topic, f"break-glass-{uuid.uuid4().hex}"))
    assert_denied(consume(conf, "audit.dlq", f"break-glass-{uuid.uuid4().hex}"))


def _auth_error(conf: dict[str, Any], timeout: float = 15.0) -> KafkaError:
    errors: list[KafkaError] = []
    admin = AdminClient({**conf, "error_cb": errors.append})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=timeout)
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        admin.poll(0.2)
    assert errors, "no error reported"
    return errors[0]


def test_wrong_password_is_refused(principals: Principals) -> None:
    err = _auth_error(principals.conf("analyst", **{"sasl.password": "not-the-password"}))
    assert err.code() == KafkaError._AUTHENTICATION, err


def test_unauthenticated_clients_get_nothing_from_the_secured_listener(
    principals: Principals,
) -> None:
    base = principals.conf("analyst")
    bootstrap = base["bootstrap.servers"]
    # TLS without SASL, and plaintext, on the secured port: no metadata, no access
    tls_only = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": base["ssl.ca.location"],
    }
    with pytest.raises(KafkaException):
        AdminClient(tls_only).list_topics(timeout=8)
    with pytest.raises(KafkaException):
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=8)


# --- ACLs as code --------------------------------------------------------------------------------


def test_acl_drift_is_reported_and_apply_removes_it(principals: Principals) -> None:
    admin = AdminClient(principals.conf("admin"))
    wanted = acls.load_file(ACL_FILE)
    stray = acls.Entry("analyst", "topic", "audit.dlq", "literal", "read")
    acls.create(admin, [stray])
    try:
        drift = acls.plan(wanted, acls.current_acls(admin))
        assert drift.remove == (stray,)
        assert drift.add == ()
        acls.apply_plan(admin, drift)
        assert acls.plan(wanted, acls.current_acls(admin)).in_sync
    finally:
        acls.delete(admin, [stray])
    group = f"analyst-{uuid.uuid4().hex}"
    assert_denied(consume(principals.conf("analyst"), "audit.dlq", group))
