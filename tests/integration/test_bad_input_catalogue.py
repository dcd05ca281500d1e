"""The bad-input catalogue on the stream (issue 18, item 4), on the real broker and registry.

One sanitizer worker (``auditpipe run sanitizer``, a process) reads a one-partition raw topic
on which every catalogue entry (tests/harness/bad_input.py) is followed by a good event. Each
bad record must end in the DLQ with its reason code in the envelope, the good event after it
must reach the events topic (no crash, no stall: the partition is read in order), duplicates
are dropped and counted, and services whose clocks are off raise one SYSTEM alert each on the
alerts topic. The worker must still be running at the end and stop cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.events.dlq import REASON_HEADER
from pipeline.events.schemas import ALERT, AUDIT_EVENT, DLQ_ENVELOPE
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.sanitizer.skew import RULE_ID
from pipeline.settings import SanitizerConfig, Settings
from tests.harness.bad_input import Case, catalogue, encode, event, unique_tag

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LIMITS = SanitizerConfig(
    max_event_bytes=64 * 1024, max_field_bytes=8192, max_entries=100, skew_threshold_s=120
)
SKEW = timedelta(minutes=15)


@dataclass
class Run:
    cases: list[tuple[Case, int]]  # the case and its offset on the raw topic
    letters: dict[int, dict[str, Any]] = field(default_factory=dict)  # by source offset
    events: list[dict[str, Any]] = field(default_factory=list)  # in topic order
    alerts: list[dict[str, Any]] = field(default_factory=list)
    metrics: str = ""
    alive: bool = False
    exit_code: int | None = None
    stderr: str = ""
    expected_ids: set[str] = field(default_factory=set)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drain(conn: KafkaConnection, topic: str, done: Any, timeout_s: float) -> list[bytes]:
    consumer = clients.consumer(conn, f"t-{uuid.uuid4()}", {"auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    out: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done(out):
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None and msg.value() is not None:
                    out.append(msg.value())  # type: ignore[arg-type]
    finally:
        consumer.close()
    return out


@pytest.fixture(scope="module")
def run(stack: Settings, kafka_conn: KafkaConnection) -> Iterator[Run]:
    tag = unique_tag()
    raw, events_t, dlq_t, alerts_t = (f"t{tag}.raw.svc", f"t{tag}.events", f"t{tag}.dlq",
                                      f"t{tag}.alerts")  # fmt: skip
    ensure_topics(kafka_conn, [TopicSpec(raw, 1)])
    client = registry_client(stack.registry_url)
    serde = AvroSerde(client, AUDIT_EVENT)
    now = datetime.now(UTC)
    cases = catalogue(client, serde, raw, now, LIMITS, tag)
    producer = clients.producer(kafka_conn)
    state = Run(cases=[])
    offsets: list[int] = []

    def put(value: bytes, key: bytes | None) -> None:
        producer.produce(raw, value=value, key=key, on_delivery=lambda e, m: offsets.append(
            -1 if e is not None else m.offset()))  # fmt: skip

    for i, case in enumerate(cases):
        put(case.value, case.key)
        after = event(f"{tag}-after-{i}", now)
        put(encode(serde, after, raw), b"actor-1")
        state.expected_ids.add(after["event_id"])
    # clock skew: one service behind, one ahead, one on time (each from the service catalog)
    for i in range(4):
        for service, lag in (("billing-api", SKEW), ("auth-service", -SKEW)):
            doc = event(f"{tag}-{service}-{i}", now - lag, service=service)
            put(encode(serde, doc, raw), b"actor-2")
            state.expected_ids.add(doc["event_id"])
    assert producer.flush(60) == 0
    assert -1 not in offsets
    state.cases = [(case, offsets[2 * i]) for i, case in enumerate(cases)]
    state.expected_ids |= {f"{tag}-dup"}

    port = _free_port()
    env = {
        **os.environ,
        "AUDITPIPE_TOPICS__RAW_PATTERN": rf"^t{tag}\.raw\..*",
        "AUDITPIPE_TOPICS__EVENTS": events_t,
        "AUDITPIPE_TOPICS__DLQ": dlq_t,
        "AUDITPIPE_TOPICS__ALERTS": alerts_t,
        "AUDITPIPE_DLQ_KEY": secrets.token_hex(32),
        "AUDITPIPE_HMAC_KEY": secrets.token_hex(32),
        "AUDITPIPE_LOG_LEVEL": "WARNING",
        "AUDITPIPE_SANITIZER__MAX_EVENT_BYTES": str(LIMITS.max_event_bytes),
        "AUDITPIPE_SANITIZER__MAX_FIELD_BYTES": str(LIMITS.max_field_bytes),
        "AUDITPIPE_SANITIZER__MAX_ENTRIES": str(LIMITS.max_entries),
        "AUDITPIPE_SANITIZER__SKEW_THRESHOLD_S": str(LIMITS.skew_threshold_s),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.main", "run", "sanitizer", "--group", f"g{tag}",
         "--batch-size", "50", "--metrics-port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        events_serde = AvroSerde(client, AUDIT_EVENT)
        want = state.expected_ids

        def all_events(values: list[bytes]) -> bool:
            ids = {events_serde.deserialize(v, events_t)["event_id"] for v in values}
            return want <= ids

        values = _drain(kafka_conn, events_t, all_events, 240)
        state.events = [events_serde.deserialize(v, events_t) for v in values]
        dlq_serde = AvroSerde(client, DLQ_ENVELOPE)
        n_bad = sum(1 for c in cases if c.code not in (None, "ok"))
        for v in _drain(kafka_conn, dlq_t, lambda out: len(out) >= n_bad, 120):
            letter = dlq_serde.deserialize(v, dlq_t)
            state.letters[letter["source_offset"]] = letter
        alert_serde = AvroSerde(client, ALERT)
        state.alerts = [
            alert_serde.deserialize(v, alerts_t)
            for v in _drain(kafka_conn, alerts_t, lambda out: len(out) >= 2, 60)
        ]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            state.metrics = resp.read().decode()
        state.alive = worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        state.exit_code = worker.wait(60)
        state.stderr = worker.stderr.read().decode("utf-8", "replace") if worker.stderr else ""
        # after a clean stop every output is flushed: count the alerts exactly
        state.alerts = [
            alert_serde.deserialize(v, alerts_t)
            for v in _drain(kafka_conn, alerts_t, lambda out: len(out) >= 3, 10)
        ]
        yield state
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        delete_topics(kafka_conn, [raw, events_t, dlq_t, alerts_t])
        for subject in client.get_subjects():
            if subject.startswith(f"hostile-{tag}-"):
                client.delete_subject(subject)


def _case_names() -> list[str]:
    client = registry_client("mock://names")
    cases = catalogue(client, AvroSerde(client, AUDIT_EVENT), "t", datetime.now(UTC), LIMITS, "n")
    return [c.name for c in cases]


@pytest.mark.parametrize("name", _case_names())
def test_catalogue_entry_on_the_stream(run: Run, name: str) -> None:
    [(case, offset)] = [(c, o) for c, o in run.cases if c.name == name]
    after = {e["event_id"] for e in run.events}
    index = [c.name for c, _ in run.cases].index(name)
    assert any(i.endswith(f"-after-{index}") for i in after), "the good record after it is lost"
    if case.code in (None, "ok"):
        assert offset not in run.letters
        return
    letter = run.letters.get(offset)
    assert letter is not None, f"no dead letter for offset {offset}"
    assert letter["headers"][REASON_HEADER] == case.code, letter["reason"]
    assert letter["reason"].startswith(f"{case.code}: ")
    assert letter["stage"] == "sanitizer"
    assert letter["raw_key_id"] is not None


def test_duplicates_are_dropped_and_counted(run: Run) -> None:
    dup = [e for e in run.events if e["event_id"].endswith("-dup")]
    assert len(dup) == 1
    assert "auditpipe_sanitizer_duplicates_total 2.0" in run.metrics


def test_the_worker_neither_crashed_nor_stalled(run: Run) -> None:
    assert run.alive, run.stderr[-3000:]
    assert run.exit_code == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert "4111" not in run.stderr


def test_clock_skew_raises_one_system_alert_per_skewed_service(run: Run) -> None:
    by_service = {a["service"]: a for a in run.alerts}
    assert sorted(by_service) == ["auth-service", "billing-api"], run.alerts
    assert len(run.alerts) == 2  # four skewed events each: one alert per service and window
    assert by_service["billing-api"]["details"]["direction"] == "behind"
    assert by_service["auth-service"]["details"]["direction"] == "ahead"
    for alert in run.alerts:
        assert alert["rule_id"] == RULE_ID
        assert alert["details"]["category"] == "SYSTEM"
        assert float(alert["details"]["skew_s"]) > LIMITS.skew_threshold_s
    lines = [ln for ln in run.metrics.splitlines() if ln.startswith("auditpipe_sanitizer_clock")]
    skew = {ln.split('"')[1]: float(ln.rsplit(" ", 1)[1]) for ln in lines if '"' in ln}
    assert skew["billing-api"] > LIMITS.skew_threshold_s
    assert skew["auth-service"] < -LIMITS.skew_threshold_s
    assert abs(skew["api-gateway"]) < LIMITS.skew_threshold_s
