"""Break-glass on the real broker: closed, the break-glass principal is refused; `break-glass
open` grants it raw and DLQ reads, emits the ADMIN audit event through the SDK that the shipped
rule ``admin.break_glass`` alerts on; after the TTL, ``expire`` removes the grant and the broker
refuses again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import KafkaError, TopicPartition
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import acls, clients
from pipeline.kafka.breakglass import Glass
from pipeline.settings import Settings
from tests.integration.authz import ACL_FILE, Principals, assert_denied, consume, produce

pytestmark = pytest.mark.integration

RULES = ACL_FILE.parents[2] / "rules" / "detection" / "admin.break_glass.yml"
AUDIT_TOPIC = "audit.raw.auditpipe-break-glass"


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--file", str(ACL_FILE)])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _admin_consumer(principals: Principals) -> clients.Consumer:
    return clients.consumer(
        principals.conn("admin"), f"bg-test-{uuid.uuid4().hex[:8]}", {"enable.partition.eof": True}
    )


def _ends(principals: Principals) -> dict[int, int]:
    """High watermark of each partition of the audit topic (0s when it does not exist yet)."""
    consumer = _admin_consumer(principals)
    try:
        md = consumer.list_topics(AUDIT_TOPIC, timeout=20).topics[AUDIT_TOPIC]
        if md.error is not None:
            return {}
        return {
            p: consumer.get_watermark_offsets(TopicPartition(AUDIT_TOPIC, p), timeout=20)[1]
            for p in md.partitions
        }
    finally:
        consumer.close()


def _audit_event(
    principals: Principals, stack: Settings, event_id: str, since: dict[int, int]
) -> dict[str, object]:
    """The event ``event_id`` read back from the break-glass audit topic (records after
    ``since``), in JSON form."""
    consumer = _admin_consumer(principals)
    serde = AvroSerde(registry_client(stack.registry_url))
    schema = parsed_schema(AUDIT_EVENT)
    md = consumer.list_topics(AUDIT_TOPIC, timeout=20)
    parts = list(md.topics[AUDIT_TOPIC].partitions)
    consumer.assign([TopicPartition(AUDIT_TOPIC, p, since.get(p, 0)) for p in parts])
    eof: set[int] = set()
    try:
        while len(eof) < len(parts):
            msg = consumer.poll(10)
            assert msg is not None, "the audit topic did not answer"
            err = msg.error()
            if err is not None:
                assert err.code() == KafkaError._PARTITION_EOF, err
                eof.add(msg.partition() or 0)
                continue
            datum = serde.deserialize(msg.value() or b"", AUDIT_TOPIC)
            if datum["event_id"] == event_id:
                return jsonform.to_json(schema, datum)
    finally:
        consumer.close()
    raise AssertionError(f"audit event {event_id} not found in {AUDIT_TOPIC}")


def test_open_alerts_grants_for_the_ttl_then_expires(
    principals: Principals, stack: Settings, raw_topic: str
) -> None:
    glass_conn = principals.conn("break-glass")
    assert produce(principals.conn("producer"), raw_topic) is None
    assert_denied(consume(glass_conn, raw_topic, f"break-glass-{uuid.uuid4().hex}"))

    since = _ends(principals)
    out = _cli("break-glass", "open", "--reason", "incident 42: corrupt input", "--ttl", "4s")
    event_id = out.strip().rsplit("audit event ", 1)[1].rstrip(")")
    try:
        # open: raw input and dead letters are readable by break-glass
        assert consume(glass_conn, raw_topic, f"break-glass-{uuid.uuid4().hex}") == b"authz-probe"
        dlq = consume(glass_conn, "audit.dlq", f"break-glass-{uuid.uuid4().hex}")
        assert isinstance(dlq, bytes), dlq
        # and nothing else: it still cannot write or read the scrubbed stream's state
        assert_denied(produce(glass_conn, raw_topic))
        assert_denied(consume(glass_conn, "audit.router.state", f"break-glass-{uuid.uuid4().hex}"))

        # the opening is an ADMIN audit event that the shipped rule pages on
        event = _audit_event(principals, stack, event_id, since)
        assert event["category"] == "ADMIN"
        assert event["action"] == "break_glass.open"
        details = event["details"]
        assert isinstance(details, dict)
        assert details["reason"] == "incident 42: corrupt input"
        assert details["ttl_s"] == "4"
        alerts = Engine(load_rules(RULES)).run([event])
        assert [a["rule_id"] for a in alerts] == ["admin.break_glass"]
        assert alerts[0]["severity"] == "CRITICAL"

        # expiry: before the TTL nothing happens; after it, the grant is gone
        glass = Glass(acls.load_file(ACL_FILE), principals.conn("admin"))
        state = glass.state()
        assert state is not None
        assert state.is_open
        assert glass.expire(now=state.opened_at) is None
        closed = glass.expire(now=max(state.expires_at, datetime.now(UTC)))
        assert closed is not None
        assert closed.close_reason == "expired"
        assert glass.granted() == set()
        assert_denied(consume(glass_conn, raw_topic, f"break-glass-{uuid.uuid4().hex}"))
        assert_denied(consume(glass_conn, "audit.dlq", f"break-glass-{uuid.uuid4().hex}"))
    finally:
        _cli("break-glass", "close", "--reason", "test cleanup")
