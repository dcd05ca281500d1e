"""Hot-store retention against the real broker: `topics apply|check` and `retention verify-hot`.

Every test works on topics of its own (names and raw pattern given through AUDITPIPE_TOPICS__*),
with a table of short retentions, so the shared broker's other topics are never touched.
Deletion is waited for by polling the earliest offset (the event), never by sleeping: Kafka
removes a segment at its next retention check (log.retention.check.interval.ms; the local stack
sets 5 s, Kafka's default is 5 min: above a minute that test is skipped unless
AUDITPIPE_TEST_RETENTION_WAIT=1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from pipeline.kafka import clients, topics
from pipeline.kafka import retention as hot
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.produce.own import own_audit_producer
from pipeline.settings import Settings, TopicsConfig

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("events", "dlq", "alerts", "router_in", "silences", "router_state")
TABLE = """version: 1
topics:
  raw: {description: raw, retention: 10 seconds, segment: 2 seconds}
  events: {description: events, retention: 1 hour, segment: 10 minutes}
  dlq: {description: dlq, retention: 1 hour, segment: 10 minutes}
  alerts: {description: alerts, retention: 1 hour, segment: 10 minutes}
  router_in: {description: router input, retention: 1 hour, segment: 10 minutes}
  silences: {description: silences, cleanup: compact}
  router_state: {description: state, cleanup: compact}
"""


@dataclass(frozen=True)
class Scope:
    prefix: str
    table_file: Path
    settings: Settings
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=self.env,
            check=False,
            cwd=ROOT,
        )

    def raw(self, name: str) -> str:
        return f"{self.prefix}.raw.{name}"


@pytest.fixture
def scope(stack: Settings, kafka_conn: KafkaConnection, tmp_path: Path) -> Iterator[Scope]:
    prefix = f"test-hot-{uuid.uuid4().hex[:10]}"
    names = {role: f"{prefix}.{role}" for role in ROLES}
    raw_pattern = rf"^{prefix}\.raw\."
    table_file = tmp_path / "topics.yaml"
    table_file.write_text(TABLE)
    env = {**os.environ, "COLUMNS": "220", "AUDITPIPE_TOPICS__RAW_PATTERN": raw_pattern}
    env |= {f"AUDITPIPE_TOPICS__{role.upper()}": name for role, name in names.items()}
    settings = stack.model_copy(update={"topics": TopicsConfig(raw_pattern=raw_pattern, **names)})
    yield Scope(prefix, table_file, settings, env)
    admin = clients.admin(kafka_conn)
    mine = [n for n in admin.list_topics(timeout=10).topics if n.startswith(prefix)]
    delete_topics(kafka_conn, mine)


def _configs(kafka_conn: KafkaConnection, topic: str) -> dict[str, str | None]:
    admin = clients.admin(kafka_conn)
    res = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin.describe_configs([res])[res].result(timeout=10)
    return {k: e.value for k, e in entries.items()}


def _set(kafka_conn: KafkaConnection, topic: str, key: str, value: str) -> None:
    admin = clients.admin(kafka_conn)
    entry = ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    admin.incremental_alter_configs([res])[res].result(timeout=10)


def test_apply_creates_and_aligns_check_reports_drift(
    scope: Scope, kafka_conn: KafkaConnection
) -> None:
    events = f"{scope.prefix}.events"
    before = scope.cli("topics", "check", "--file", str(scope.table_file))
    assert before.returncode == 1, before.stdout + before.stderr
    assert f"+ {events}" in before.stdout
    dry = scope.cli("topics", "apply", "--dry-run", "--file", str(scope.table_file))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: 6 to create" in dry.stdout
    assert scope.cli("topics", "check", "--file", str(scope.table_file)).returncode == 1

    applied = scope.cli("topics", "apply", "--file", str(scope.table_file))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "applied: 6 created" in applied.stdout
    assert _configs(kafka_conn, events)["retention.ms"] == str(3_600_000)
    assert _configs(kafka_conn, events)["segment.ms"] == str(600_000)
    ok = scope.cli("topics", "check", "--file", str(scope.table_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # drift: a raw topic made by a producer (broker defaults) and a retention changed by hand
    raw = scope.raw("billing")
    ensure_topics(kafka_conn, [TopicSpec(raw, 1)])
    _set(kafka_conn, events, "retention.ms", str(999_000_000))
    drift = scope.cli("topics", "check", "--file", str(scope.table_file))
    assert drift.returncode == 1
    assert f"~ {events}: retention.ms 999000000 -> 3600000" in drift.stdout
    assert f"~ {raw}: retention.ms" in drift.stdout
    assert f"~ {raw}: segment.ms" in drift.stdout

    fixed = scope.cli("topics", "apply", "--file", str(scope.table_file))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "applied: 0 created" in fixed.stdout
    assert _configs(kafka_conn, raw)["retention.ms"] == str(10_000)
    again = scope.cli("topics", "apply", "--file", str(scope.table_file))
    assert "nothing to do" in again.stdout, again.stdout
    assert scope.cli("topics", "check", "--file", str(scope.table_file)).returncode == 0


def _produce(kafka_conn: KafkaConnection, topic: str, n: int, ts_ms: int) -> None:
    p = clients.producer(kafka_conn, {"acks": "all"})
    for i in range(n):
        p.produce(topic, value=b"x", key=str(i).encode(), timestamp=ts_ms)
    assert p.flush(30) == 0


def _earliest(kafka_conn: KafkaConnection, topic: str) -> tuple[int, int]:
    c = clients.consumer(kafka_conn, "auditpipe-tests-watermarks")
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(low), int(high)
    finally:
        c.close()


def _raw_topic(scope: Scope, kafka_conn: KafkaConnection, name: str) -> str:
    table = topics.load_table(scope.table_file)
    spec = topics.raw_spec(scope.settings, table, scope.raw(name))
    ensure_topics(kafka_conn, [TopicSpec(spec.name, 1, 1, spec.config)])
    return spec.name


def test_verify_hot_fails_on_records_past_the_bound(
    scope: Scope, kafka_conn: KafkaConnection
) -> None:
    now = int(time.time() * 1000)
    fresh = _raw_topic(scope, kafka_conn, "fresh")
    _produce(kafka_conn, fresh, 3, now)
    ok = scope.cli("retention", "verify-hot", "--file", str(scope.table_file), "--topic", fresh)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert fresh in ok.stdout

    # A record 3 h old, then a fresh one, in one batch (one segment) of the events topic (1 h
    # retention, 10 min segments): the segment's newest record keeps it from deletion, so the
    # old record stays past its bound (1 h + 10 min + the check interval) whenever the broker
    # checks: a clock-skewed or replaying producer does this. Deterministic, no race with Kafka.
    table = topics.load_table(scope.table_file)
    events = next(
        d.spec for d in topics.declared_topics(scope.settings, table) if d.role == "events"
    )
    ensure_topics(kafka_conn, [TopicSpec(events.name, 1, 1, events.config)])
    p = clients.producer(kafka_conn, {"acks": "all", "linger.ms": 1000})
    p.produce(events.name, value=b"old", key=b"k", timestamp=now - 3 * 3_600_000)
    p.produce(events.name, value=b"new", key=b"k", timestamp=now)
    assert p.flush(30) == 0
    bad = scope.cli("retention", "verify-hot", "--file", str(scope.table_file))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "TOO OLD" in bad.stdout
    assert "1 partitions hold records past their retention bound" in bad.stdout

    # the purge report ends with the same check, and fails with it
    purge = scope.cli(
        "retention",
        "purge",
        "--dry-run",
        "--topic",
        f"{scope.prefix}.none",
        "--topic-table",
        str(scope.table_file),
    )
    assert purge.returncode == 1, purge.stdout + purge.stderr
    assert "TOO OLD" in purge.stdout


def test_verify_hot_passes_once_kafka_deleted_the_segment(
    scope: Scope, kafka_conn: KafkaConnection
) -> None:
    interval = hot.check_interval_ms(clients.admin(kafka_conn))
    assert interval is not None
    if interval > 60_000 and not os.environ.get("AUDITPIPE_TEST_RETENTION_WAIT"):
        pytest.skip(
            f"the broker checks retention every {interval} ms (restart the local stack for "
            "5 s, or set AUDITPIPE_TEST_RETENTION_WAIT=1 to wait for it)"
        )
    old = _raw_topic(scope, kafka_conn, "old")
    now = int(time.time() * 1000)
    # the report's own clock: with a bound of 10 s + 2 s + interval, an hour-old record fails
    _produce(kafka_conn, old, 5, now - 3_600_000)
    table = topics.load_table(scope.table_file)
    report = hot.verify_hot(kafka_conn, scope.settings, table, only=[old])
    low, high = _earliest(kafka_conn, old)
    if low < high:  # not deleted yet
        assert [c.status for c in report.failed] == ["too old"]
    deadline = time.monotonic() + 2 * interval / 1000 + 60
    while low < high:  # the event: Kafka moved the log start past every old record
        assert time.monotonic() < deadline, f"segment not deleted after {2 * interval} ms + 60 s"
        time.sleep(0.5)
        low, high = _earliest(kafka_conn, old)
    assert (low, high) == (5, 5)
    passed = scope.cli("retention", "verify-hot", "--file", str(scope.table_file), "--topic", old)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "empty" in passed.stdout


def test_topics_our_own_commands_create_get_the_declared_retention(
    stack: Settings, kafka_conn: KafkaConnection
) -> None:
    """A raw topic created on the fly by one of our producers (here an own audit producer, as
    the read audit, break-glass, lifecycle and silence commands use) is created with the
    table's raw policy, not the broker's default retention: it holds plaintext."""
    service = f"test-own-{uuid.uuid4().hex[:8]}"
    topic = f"audit.raw.{service}"
    try:
        with own_audit_producer(stack, clients.connection(stack, service), service):
            pass
        got = _configs(kafka_conn, topic)
        policy = topics.table_for(stack).topics.raw.config(stack.topics.replication_factor)
        assert policy["retention.ms"] == str(3 * 24 * 3600 * 1000)  # rules/topics.yaml: 3 days
        for key, value in policy.items():
            assert got[key] == value, key
    finally:
        delete_topics(kafka_conn, [topic])
