"""Every read of the logs is an audit event (issue 12): `consume`, `consume --decrypt` (DLQ
decryption), `verify` and `prove` each emit one to audit.raw.auditpipe-reader, naming the
principal, what was read and why, before they read (real broker, registry and S3)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.archive.format import keys
from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.write.importer import import_jsonl
from pipeline.errors import DeserializationError
from pipeline.events.dlq import DlqKey, dead_letter
from pipeline.events.schemas import DLQ_ENVELOPE
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.replay.audit import SERVICE
from pipeline.replay.filters import compile_filters
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import ListSink
from pipeline.replay.window import Window
from pipeline.settings import Settings
from tests.integration.authz import Principals
from tests.integration.replay_events import generated, produce_now

pytestmark = pytest.mark.integration

AUDIT_TOPIC = f"audit.raw.{SERVICE}"
REGION = "us-east-1"


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", *args],
        capture_output=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
        cwd=cwd,
    )


def _audits(stack: Settings, since: datetime, reason: str) -> list[dict[str, Any]]:
    """The read-audit events since ``since`` whose reason is ``reason``."""
    sink = ListSink()
    flt = compile_filters([f"details.reason='{reason}'"])
    replay_kafka(stack, AUDIT_TOPIC, Window(since, None), flt, sink)
    return sink.events


def _one(stack: Settings, since: datetime, reason: str) -> dict[str, Any]:
    got = _audits(stack, since, reason)
    assert len(got) == 1, got
    event = got[0]
    assert event["category"] == "DATA_ACCESS"
    assert event["action"] == "logs.read"
    assert event["service"] == SERVICE
    assert event["actor"]["id"]
    return event


def test_consume_is_audited_with_topic_window_and_reason(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.read", partitions=1)
    produce_now(stack, topic, generated(5, seed=5), tmp_path / "spool")
    t0 = datetime.now(UTC)
    reason = f"incident {uuid.uuid4().hex[:8]}"
    done = _cli("consume", "-t", topic, "-n", "5", "--reason", reason, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5
    event = _one(stack, t0, reason)
    assert event["target"]["id"] == topic
    assert event["details"]["command"] == "consume"
    assert (
        event["details"]["window"]
        == "from the earliest offset of every partition, at most 5 events"
    )
    assert event["details"]["kafka_principal"] == "User:ANONYMOUS"


def test_registry_down_stops_the_read_and_the_attempt_is_sent_later(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    """With the registry unreachable the read's audit event can only be spooled: the read does
    not happen (exit 2, nothing printed); the next read from the same directory, with the
    registry up, sends the spooled event too."""
    topic = topic_factory("audit.read", partitions=1)
    produce_now(stack, topic, generated(3, seed=6), tmp_path / "spool")
    with socket.socket() as s:  # a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    t0 = datetime.now(UTC)
    tried, then = (f"{w} {uuid.uuid4().hex[:8]}" for w in ("attempt", "retry"))
    down = _cli(
        "consume", "-t", topic, "-n", "3", "--reason", tried, cwd=tmp_path,
        env={"AUDITPIPE_SCHEMA_REGISTRY_URL": dead},
    )  # fmt: skip
    assert down.returncode == 2, down.stderr
    assert b"schema registry did not answer" in down.stderr
    assert down.stdout == b""
    up = _cli("consume", "-t", topic, "-n", "3", "--reason", then, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert len(up.stdout.splitlines()) == 3
    assert _one(stack, t0, then)["details"]["command"] == "consume"
    assert _one(stack, t0, tried)["target"]["id"] == topic  # the refused attempt, from the spool


def test_consume_of_a_raw_topic_or_the_dlq_needs_a_reason(stack: Settings, tmp_path: Path) -> None:
    for topic in (f"audit.raw.nope-{uuid.uuid4().hex[:6]}", stack.topics.dlq):
        done = _cli("consume", "-t", topic, "-n", "1", cwd=tmp_path)
        assert done.returncode == 2
        assert b"needs --reason" in done.stderr


def test_dlq_decryption_is_audited_and_gives_the_original_bytes(
    stack: Settings, kafka_conn: KafkaConnection, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    dlq = topic_factory("audit.read-dlq", partitions=1)
    key_hex = secrets.token_hex(32)
    key = DlqKey("dlq-k1", bytes.fromhex(key_hex))
    raw = b"not an event: jane@example.com"
    letter = dead_letter(
        DeserializationError("not Avro", topic="audit.raw.x", partition=0, offset=7, raw=raw),
        stage="sanitizer",
        key=key,
        message_key=b"actor-1",
    )
    producer = clients.producer(kafka_conn)
    producer.produce(
        dlq, AvroSerde(registry_client(stack.registry_url), DLQ_ENVELOPE).serialize(letter, dlq)
    )
    assert producer.flush(20) == 0
    env = {"AUDITPIPE_TOPICS__DLQ": dlq, "AUDITPIPE_DLQ_KEY": key_hex}

    refused = _cli("consume", "-t", dlq, "-n", "1", "--decrypt", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert b"DLQ decryption needs --reason" in refused.stderr
    elsewhere = _cli("consume", "-t", "audit.events", "--decrypt", "--reason", "x", cwd=tmp_path)
    assert elsewhere.returncode == 2

    t0 = datetime.now(UTC)
    reason = f"DLQ triage {uuid.uuid4().hex[:8]}"
    done = _cli(
        "consume", "-t", dlq, "-n", "1", "--decrypt", "--reason", reason, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    doc = orjson.loads(done.stdout.splitlines()[0])
    assert doc["raw"].encode("latin-1") == raw
    assert doc["key"] == "actor-1"
    event = _one(stack, t0, reason)
    assert event["details"]["command"] == "consume --decrypt"
    assert event["details"]["dlq_decrypt"] == "true"
    assert event["target"]["id"] == dlq
    assert b"jane" not in orjson.dumps(event)  # the audit event names the read, not its content


def test_verify_and_prove_are_audited(stack: Settings, tmp_path: Path) -> None:
    client = s3_client(stack, REGION)
    bucket = f"auditpipe-test-archive-{REGION}"
    ensure_object_lock_bucket(client, bucket, REGION)
    run = uuid.uuid4().hex[:10]
    store = S3ObjectLockStore(client, bucket, prefix=run, retention_days=1)
    url = f"s3://{bucket}/{run}"
    docs = generated(30, seed=12)
    src = tmp_path / "events.jsonl"
    src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    private, public = keys.generate(tmp_path / "keys")
    import_jsonl(src, store, keys.load_private_key(private), batch_size=10, checkpoint_every=1)

    t0 = datetime.now(UTC)
    reason = f"quarterly check {uuid.uuid4().hex[:8]}"
    done = _cli(
        "verify", "--source", url, "--region", REGION, "--public-key", str(public),
        "--from", "2026-01-01T00:00:00Z", "--reason", reason, "--jobs", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    event = _one(stack, t0, reason)
    assert event["details"]["command"] == "verify"
    assert event["details"]["source"] == url
    assert event["details"]["window"] == "[2026-01-01T00:00:00.000000Z, end)"
    assert event["details"]["s3_principal"] == stack.s3_credentials[0]

    reason = f"court order {uuid.uuid4().hex[:8]}"
    wanted = docs[17]["event_id"]
    done = _cli(
        "prove", wanted, "--source", url, "--region", REGION, "--reason", reason, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["event_id"] == wanted
    event = _one(stack, t0, reason)
    assert event["details"]["command"] == "prove"
    assert wanted in event["details"]["window"]


def test_a_reader_is_audited_as_its_principal(
    stack: Settings, principals: Principals, tmp_path: Path
) -> None:
    """The analyst, over SASL_SSL with its client config, may write its read's audit event
    (and nothing else: test_authorization)."""
    props = principals.files.client_properties("analyst")
    t0 = datetime.now(UTC)
    reason = f"analyst read {uuid.uuid4().hex[:8]}"
    env = {"AUDITPIPE_KAFKA__CLIENT_CONFIG": str(props)}
    done = _cli(
        "consume", "-t", "audit.alerts", "-n", "1", "--idle-timeout", "3", "--reason", reason,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    event = _one(stack, t0, reason)
    assert event["details"]["kafka_principal"] == "User:analyst"


def test_a_read_that_cannot_be_recorded_does_not_happen(
    stack: Settings, principals: Principals, tmp_path: Path
) -> None:
    """The detector may read audit.events but not write the read-audit topic: `consume` as
    the detector fails closed (exit 2) and prints no event."""
    props = principals.files.client_properties("detector")
    env = {"AUDITPIPE_KAFKA__CLIENT_CONFIG": str(props)}
    done = _cli(
        "consume", "-t", "audit.events", "-n", "1", "--reason", "no trail", cwd=tmp_path, env=env
    )
    assert done.returncode == 2, done.stderr
    assert b"refused the read's audit event" in done.stderr
    assert done.stdout == b""
