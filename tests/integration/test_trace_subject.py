"""`trace` rebuilds, in order, a flow produced across three services; `replay --subject` returns
exactly one person's events, without their pseudonym or anyone else's (real broker)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from pipeline.events.jsonform import format_ts
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.replay.filters import compile_filters
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import ListSink
from pipeline.replay.window import Window
from pipeline.scrub.keys import ScrubKeys
from pipeline.scrub.treatments import Pseudonymizer
from pipeline.settings import Settings
from tests.integration.replay_events import generated, produce_now

pytestmark = pytest.mark.integration

HMAC_HEX = hashlib.sha256(b"replay-tests").hexdigest()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", *args],
        capture_output=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200", "AUDITPIPE_HMAC_KEY": HMAC_HEX},
        check=False,
        cwd=cwd,
    )


def test_trace_rebuilds_a_flow_across_three_services(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.replay", partitions=3)
    t0 = datetime.now(UTC)
    produce_now(stack, topic, generated(300, seed=41), tmp_path / "spool")
    trace_id, request_id = uuid.uuid4().hex, str(uuid.uuid4())
    conn = KafkaConnection(bootstrap_servers=stack.kafka_bootstrap, client_id="trace-test")
    sent = []
    for hop, service in enumerate(["gateway", "auth-api", "billing-api", "gateway"]):
        config = ProducerConfig(
            kafka=conn,
            registry_url=stack.registry_url,
            service=service,
            topic=topic,
            spool_dir=tmp_path / f"spool-{service}",
        )
        with AuditProducer(config) as producer:  # each service with its own actor key
            sent.append(
                producer.emit(
                    category="AUTHZ",
                    action=f"hop.{hop}",
                    actor={"id": f"user-{hop}", "type": "user"},
                    trace_id=trace_id,
                    request_id=request_id,
                )
            )
            assert producer.flush(30) == 0
    produce_now(stack, topic, generated(300, seed=42), tmp_path / "spool")

    done = _cli(
        "trace", trace_id, "--topic", topic, "--from", format_ts(t0), "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    hops = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [h["event"]["event_id"] for h in hops] == sent
    assert [h["event"]["service"] for h in hops] == [
        "gateway",
        "auth-api",
        "billing-api",
        "gateway",
    ]
    assert hops[0]["since_start_ms"] == 0
    assert all(h["gap_ms"] >= 0 for h in hops)

    table = _cli(
        "trace", "--request-id", request_id, "--topic", topic, "--from", format_ts(t0), cwd=tmp_path
    )
    assert table.returncode == 0, table.stderr
    assert b"4 events across 3 services: gateway -> auth-api -> billing-api" in table.stdout
    missing = _cli(
        "trace", uuid.uuid4().hex, "--topic", topic, "--from", format_ts(t0), cwd=tmp_path
    )
    assert missing.returncode == 1


def test_subject_returns_exactly_that_persons_events(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.replay", partitions=3)
    pseudo = Pseudonymizer(ScrubKeys({"k1": bytes.fromhex(HMAC_HEX)}, "k1"))
    docs = generated(600, seed=43)
    for i, d in enumerate(docs):  # as the sanitizer leaves them: actor ids pseudonymized
        d["actor"] = {**d["actor"], "id": pseudo(f"person{i % 9}@example.com")}
    t0 = datetime.now(UTC)
    sent = produce_now(stack, topic, docs, tmp_path / "spool")
    out = tmp_path / "subject.jsonl"
    done = _cli(
        "replay",
        "kafka",
        "--topic",
        topic,
        "--from",
        format_ts(t0),
        "--subject",
        "person4@example.com",
        "--reason",
        "DSAR 17",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    got = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    want = [d["event_id"] for i, d in enumerate(sent) if i % 9 == 4]
    assert sorted(d["event_id"] for d in got) == sorted(want)
    assert {d["actor"]["id"] for d in got} == {"ps:subject"}
    assert b"ps:k1:" not in out.read_bytes()
    assert pseudo("person4@example.com").encode() not in done.stderr + done.stdout
    assert b"person4" not in done.stderr

    # the lookup itself is an audit event: who, why, that it was a subject lookup; no identifier
    sink = ListSink()
    replay_kafka(
        stack,
        "audit.raw.auditpipe-reader",
        Window(t0, None),
        compile_filters([f"details.reason='DSAR 17' AND target.id={topic}"]),
        sink,
    )
    assert len(sink.events) == 1
    audit = sink.events[0]
    assert audit["action"] == "logs.read"
    assert audit["details"]["subject_lookup"] == "true"
    assert audit["details"]["command"] == "replay kafka"
    text = orjson.dumps(audit)
    assert b"person4" not in text
    assert pseudo("person4@example.com").encode() not in text
