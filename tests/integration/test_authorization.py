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

import pytest
from confluent_kafka import KafkaError, KafkaException
from pydantic import SecretStr

from pipeline.kafka import acls, clients
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topics import pipeline_topics
from pipeline.settings import Settings
from pipeline.stack.services import KafkaService
from tests.integration.authz import (
    ACL_FILE,
    Principals,
    assert_denied,
    authorized_ops,
    consume,
    produce,
)

pytestmark = pytest.mark.integration


# --- each principal can do its job --------------------------------------------------------------


def test_producer_writes_raw_and_sanitizer_reads_it(principals: Principals, raw_topic: str) -> None:
    assert produce(principals.conn("producer"), raw_topic) is None
    got = consume(principals.conn("sanitizer"), raw_topic, "auditpipe-sanitizer")
    assert got == b"authz-probe"


@pytest.mark.parametrize(
    ("principal", "topic", "ops"),
    [
        ("sanitizer", "audit.events", {"write"}),
        ("sanitizer", "audit.dlq", {"write"}),
        ("sanitizer", "audit.alerts", {"write"}),  # clock-skew SYSTEM alerts
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
    assert authorized_ops(principals.conn(principal), topic) - {"describe"} == ops


def test_analyst_reads_scrubbed_events_in_its_own_group(
    principals: Principals, kafka_conn: KafkaConnection
) -> None:
    got = consume(principals.conn("analyst"), "audit.events", f"analyst-{uuid.uuid4().hex[:8]}")
    assert isinstance(got, bytes), got  # a record, or the end of an empty partition


# --- the broker refuses -------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "audit.dlq"])
def test_producer_cannot_read(principals: Principals, topic: str) -> None:
    assert_denied(consume(principals.conn("producer"), topic, f"producer-{uuid.uuid4().hex}"))


@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "audit.dlq"])
def test_producer_cannot_write_outside_raw(principals: Principals, topic: str) -> None:
    assert_denied(produce(principals.conn("producer"), topic))


def test_analyst_cannot_read_raw(principals: Principals, raw_topic: str) -> None:
    assert_denied(consume(principals.conn("analyst"), raw_topic, f"analyst-{uuid.uuid4().hex}"))


def test_analyst_cannot_read_dlq(principals: Principals) -> None:
    group = f"analyst-{uuid.uuid4().hex}"
    assert_denied(consume(principals.conn("analyst"), "audit.dlq", group))


@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "audit.dlq", "RAW"])
def test_analyst_cannot_write_anywhere(principals: Principals, raw_topic: str, topic: str) -> None:
    assert_denied(produce(principals.conn("analyst"), raw_topic if topic == "RAW" else topic))


def test_detector_cannot_read_router_state(principals: Principals) -> None:
    conf = principals.conn("detector")
    assert_denied(consume(conf, "audit.router.state", "auditpipe-detector"))


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
@pytest.mark.parametrize("topic", ["audit.events", "audit.alerts", "RAW"])
def test_archiver_cannot_write(
    principals: Principals, raw_topic: str, region: str, topic: str
) -> None:
    conf = principals.conn(f"archiver-{region}")
    assert_denied(produce(conf, raw_topic if topic == "RAW" else topic))


def test_sanitizer_cannot_join_the_detectors_group(principals: Principals, raw_topic: str) -> None:
    # a topic the sanitizer may read, so only the group can be refused
    got = consume(principals.conn("sanitizer"), raw_topic, "auditpipe-detector")
    assert isinstance(got, KafkaError), got
    assert got.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, got


def test_break_glass_cannot_read_raw_or_dlq_while_closed(
    principals: Principals, raw_topic: str
) -> None:
    conf = principals.conn("break-glass")
    assert_denied(consume(conf, raw_topic, f"break-glass-{uuid.uuid4().hex}"))
    assert_denied(consume(conf, "audit.dlq", f"break-glass-{uuid.uuid4().hex}"))


def _auth_error(conn: KafkaConnection, timeout: float = 15.0) -> KafkaError:
    errors: list[KafkaError] = []
    admin = clients.admin(conn, {"error_cb": errors.append})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=timeout)
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        admin.poll(0.2)
    assert errors, "no error reported"
    return errors[0]


def test_wrong_password_is_refused(principals: Principals) -> None:
    err = _auth_error(principals.conn("analyst", sasl_password=SecretStr("not-the-password")))
    assert err.code() == KafkaError._AUTHENTICATION, err


def test_unauthenticated_clients_get_nothing_from_the_secured_listener(
    principals: Principals,
) -> None:
    base = principals.conn("analyst")
    # TLS without SASL, and plaintext, on the secured port: no metadata, no access
    tls_only = KafkaConnection(
        bootstrap_servers=base.bootstrap_servers,
        security_protocol="SSL",
        ssl_ca_location=base.ssl_ca_location,
    )
    with pytest.raises(KafkaException):
        clients.admin(tls_only).list_topics(timeout=8)
    with pytest.raises(KafkaException):
        clients.admin(KafkaConnection(bootstrap_servers=base.bootstrap_servers)).list_topics(
            timeout=8
        )


# --- ACLs as code --------------------------------------------------------------------------------


def test_acl_drift_is_reported_and_apply_removes_it(principals: Principals) -> None:
    admin = clients.admin(principals.conn("admin"))
    wanted = acls.load_file(ACL_FILE)
    stray = acls.Entry("analyst", "topic", "audit.dlq", "literal", "read")
    acls.create(admin, [stray])
    acls.wait_until(admin, present=[stray])
    try:
        drift = acls.plan(wanted, acls.current_acls(admin))
        assert drift.remove == (stray,)
        assert drift.add == ()
        acls.apply_plan(admin, drift)
        assert acls.plan(wanted, acls.current_acls(admin)).in_sync
    finally:
        acls.delete(admin, [stray])
        acls.wait_until(admin, absent=[stray])
    group = f"analyst-{uuid.uuid4().hex}"
    assert_denied(consume(principals.conn("analyst"), "audit.dlq", group))


def test_a_stage_ensuring_topics_it_may_not_create_does_not_fail(
    principals: Principals, stack: Settings
) -> None:
    # the sanitizer and the router ensure the pipeline topics at start-up; under their
    # principals that must not stop them (the topics exist; creating is the admin's job)
    for principal in ("sanitizer", "router"):
        conn = principals.conn(principal)
        ensure_topics(conn, pipeline_topics(stack), timeout=15)


def test_the_broker_logs_each_denial(principals: Principals, stack: Settings) -> None:
    log = KafkaService(stack.stack).authorizer_log
    before = log.read_text() if log.is_file() else ""
    group = f"analyst-{uuid.uuid4().hex}"
    assert_denied(consume(principals.conn("analyst"), "audit.dlq", group))
    added = log.read_text()[len(before) :]
    assert "Principal = User:analyst is Denied operation = DESCRIBE" in added
    assert "Topic:LITERAL:audit.dlq" in added
