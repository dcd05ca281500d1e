"""The bad-input catalogue on the stream (issue 18, item 4), on the real broker and registry.

One sanitizer worker (``auditpipe run sanitizer``, a process) reads a one-partition raw topic
on which every catalogue entry (tests/harness/bad_input.py) is followed by a good event. Each
bad record must end in the DLQ with its reason code in the envelope, the good event after it
must reach the events topic (no crash, no stall: the partition is read in order), duplicates
are dropped and counted, and services whose clocks are off raise one SYSTEM alert each on the
alerts topic. The worker must still be running at the end and stop cleanly on SIGTERM.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.events.dlq import REASON_HEADER
from pipeline.events.schemas import ALERT, AUDIT_EVENT, DLQ_ENVELOPE
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka.config import KafkaConnection
from pipeline.sanitizer.skew import RULE_ID
from pipeline.settings import SanitizerConfig, Settings
from tests.harness.bad_input import Case, catalogue, encode, event
from tests.harness.sanitizer_run import Topics, Worker

pytestmark = pytest.mark.integration
LIMITS = SanitizerConfig(
    max_event_bytes=64 * 1024,
    max_field_bytes=8192,
    max_entries=100,
    skew_ahead_s=120,
    skew_behind_s=120,
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


@pytest.fixture(scope="module")
def run(stack: Settings, kafka_conn: KafkaConnection) -> Iterator[Run]:
    topics = Topics(kafka_conn, stack.registry_url)
    tag, raw, client, serde, now = topics.tag, topics.raw, topics.client, topics.serde, topics.now
    cases = catalogue(client, serde, raw, now, LIMITS, tag)
    state = Run(cases=[])
    for i, case in enumerate(cases):
        topics.put(case.value, case.key)
        after = event(f"{tag}-after-{i}", now)
        topics.put(encode(serde, after, raw), b"actor-1")
        state.expected_ids.add(after["event_id"])
    # clock skew: one service behind, one ahead, one on time (each from the service catalog)
    for i in range(4):
        for service, lag in (("billing-api", SKEW), ("auth-service", -SKEW)):
            doc = event(f"{tag}-{service}-{i}", now - lag, service=service)
            topics.put(encode(serde, doc, raw), b"actor-2")
            state.expected_ids.add(doc["event_id"])
    offsets = topics.flush()
    state.cases = [(case, offsets[2 * i]) for i, case in enumerate(cases)]
    state.expected_ids |= {f"{tag}-dup"}

    worker = Worker(
        topics,
        batch_size=50,
        env={
            "AUDITPIPE_LOG_LEVEL": "WARNING",
            "AUDITPIPE_SANITIZER__MAX_EVENT_BYTES": str(LIMITS.max_event_bytes),
            "AUDITPIPE_SANITIZER__MAX_FIELD_BYTES": str(LIMITS.max_field_bytes),
            "AUDITPIPE_SANITIZER__MAX_ENTRIES": str(LIMITS.max_entries),
            "AUDITPIPE_SANITIZER__SKEW_AHEAD_S": str(LIMITS.skew_ahead_s),
            "AUDITPIPE_SANITIZER__SKEW_BEHIND_S": str(LIMITS.skew_behind_s),
        },
    )
    try:
        events_serde = AvroSerde(client, AUDIT_EVENT)

        def decode(msgs: list[Any]) -> list[dict[str, Any]]:
            return [events_serde.deserialize(m.value(), topics.events) for m in msgs]

        def all_events(msgs: list[Any]) -> bool:
            return state.expected_ids <= {e["event_id"] for e in decode(msgs)}

        state.events = decode(topics.drain(topics.events, all_events, 240))
        dlq_serde = AvroSerde(client, DLQ_ENVELOPE)
        n_bad = sum(1 for c in cases if c.code not in (None, "ok"))
        for m in topics.drain(topics.dlq, lambda out: len(out) >= n_bad, 120):
            letter = dlq_serde.deserialize(m.value(), topics.dlq)
            state.letters[letter["source_offset"]] = letter
        alert_serde = AvroSerde(client, ALERT)
        topics.drain(topics.alerts, lambda out: len(out) >= 2, 60)
        state.metrics = worker.metrics()
        state.alive = worker.proc.poll() is None
        state.exit_code = worker.stop()
        state.stderr = worker.output
        # after a clean stop every output is flushed: count the alerts exactly
        state.alerts = [
            alert_serde.deserialize(m.value(), topics.alerts)
            for m in topics.drain(topics.alerts, lambda out: len(out) >= 3, 10)
        ]
        yield state
    finally:
        worker.kill()
        topics.delete()
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
        assert float(alert["details"]["skew_s"]) > LIMITS.skew_ahead_s
    lines = [ln for ln in run.metrics.splitlines() if ln.startswith("auditpipe_sanitizer_clock")]
    skew = {ln.split('"')[1]: float(ln.rsplit(" ", 1)[1]) for ln in lines if '"' in ln}
    assert skew["billing-api"] > LIMITS.skew_behind_s
    assert skew["auth-service"] < -LIMITS.skew_ahead_s
    assert abs(skew["api-gateway"]) < LIMITS.skew_ahead_s
