"""The streaming detector on the real broker: alerts within seconds, and state (and the
watermark) that survive a kill -9 (recovered from the changelog)."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import TopicPartition

from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.harness.detector_probe import start_worker, stop_worker

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = parsed_schema(AUDIT_EVENT)


def _event(actor_id: str, ts: datetime, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "ts": jsonform.format_ts(ts),
        "service": "auth-service",
        "environment": "test",
        "category": "AUTHN",
        "action": "login",
        "outcome": "SUCCESS",
        "actor": {"id": actor_id, "type": "user", "country": "DE"},
        "request_id": str(uuid.uuid4()),
    }
    doc.update(over)
    return doc


class Harness:
    worker: subprocess.Popen[bytes]  # set by the fixture

    def __init__(self, stack: Settings, conn: KafkaConnection, log: Path) -> None:
        run = uuid.uuid4().hex[:8]
        self.log = log  # the workers' output, shown when an assertion fails
        self.events, self.alerts, self.app_id = f"t{run}.events", f"t{run}.alerts", f"det-{run}"
        ensure_topics(conn, [TopicSpec(self.events, 3), TopicSpec(self.alerts, 3)])
        self.conn = conn
        self.serde = AvroSerde(registry_client(stack.registry_url))
        self.alert_serde = AvroSerde(registry_client(stack.registry_url), ALERT)
        self.producer = clients.producer(conn, {"acks": "all"})
        self.consumer = clients.consumer(conn, f"r-{run}", {"auto.offset.reset": "earliest"})
        self.consumer.subscribe([self.alerts])

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return start_worker(
                self.app_id, {"events": self.events, "alerts": self.alerts}, cwd=ROOT, log=out
            )

    def kill_and_restart(self) -> None:
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(10)
        self.worker = self.start()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def send(self, doc: dict[str, Any]) -> float:
        datum = jsonform.from_json(SCHEMA, doc)
        self.producer.produce(
            self.events,
            key=doc["actor"]["id"].encode(),
            value=self.serde.serialize(datum, self.events),
        )
        assert self.producer.flush(10) == 0
        return time.monotonic()

    def committed_all(self, timeout: float) -> bool:
        probe = clients.consumer(self.conn, self.app_id)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                tps = [TopicPartition(self.events, p) for p in range(3)]
                committed = probe.committed(tps, timeout=5)
                ends = [probe.get_watermark_offsets(tp, timeout=5)[1] for tp in tps]
                if all(max(c.offset, 0) >= e for c, e in zip(committed, ends, strict=True)):
                    return True
                time.sleep(0.5)
        finally:
            probe.close()
        return False

    def next_alert(self, rule_id: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.2)
            if msg is None or msg.error() or msg.value() is None:
                continue
            alert = self.alert_serde.deserialize(msg.value(), self.alerts)  # type: ignore[arg-type]
            if alert["rule_id"] == rule_id:
                return alert
        return None


@pytest.fixture
def h(
    stack: Settings, kafka_conn: KafkaConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """A harness with a worker running (stopped after the test)."""
    monkeypatch.setenv("AUDITPIPE_LOG_LEVEL", "INFO")
    harness = Harness(stack, kafka_conn, tmp_path / "detector.log")
    harness.worker = harness.start()
    try:
        yield harness
    finally:
        stop_worker(harness.worker)
        harness.consumer.close()


def test_alerts_fast_and_state_survives_kill_9(h: Harness) -> None:
    now = datetime.now(UTC)
    victim = f"ps:test:{uuid.uuid4().hex[:12]}"
    # history: logins from DE over the past days
    for day in range(5, 0, -1):
        h.send(_event(victim, now - timedelta(days=day)))
    # an MFA disable alerts at once (first run includes the worker's start-up)
    h.send(_event(victim, now, action="mfa.disable"))
    alert = h.next_alert("auth.mfa_disabled", 90)
    assert alert is not None, f"no auth.mfa_disabled alert; worker said:\n{h.tail()}"
    assert alert["group"] == {"actor.id": victim}
    assert alert["runbook"]

    assert h.committed_all(60), f"detector did not commit its input:\n{h.tail()}"
    h.kill_and_restart()

    # after the restart, the history must still be there: BR is new -> alert
    h.send(
        _event(
            victim,
            now + timedelta(minutes=1),
            actor={"id": victim, "type": "user", "country": "BR"},
        )
    )
    alert = h.next_alert("auth.new_country_login", 120)
    assert alert is not None, f"state not recovered: no new-country alert:\n{h.tail()}"
    assert alert["group"] == {"actor.id": victim}

    # latency once running: a second MFA disable by another actor
    other = f"ps:test:{uuid.uuid4().hex[:12]}"
    sent = h.send(_event(other, now + timedelta(minutes=2), action="mfa.disable"))
    alert = h.next_alert("auth.mfa_disabled", 30)
    latency = time.monotonic() - sent
    assert alert is not None, f"no second auth.mfa_disabled alert:\n{h.tail()}"
    assert alert["group"] == {"actor.id": other}
    assert latency < 5.0, f"alert took {latency:.2f}s:\n{h.tail()}"


def test_a_restart_keeps_the_watermark(h: Harness) -> None:
    """After a kill -9, an event later than the allowed lateness (300 s) behind what the worker
    had seen is still late: the watermark came back with the state (it used to restart at 0,
    and such an event alerted)."""
    now = datetime.now(UTC)
    first = f"ps:test:{uuid.uuid4().hex[:12]}"
    h.send(_event(first, now, action="mfa.disable"))
    assert h.next_alert("auth.mfa_disabled", 90) is not None, h.tail()
    assert h.committed_all(60), f"detector did not commit its input:\n{h.tail()}"
    h.kill_and_restart()
    # an hour behind the watermark (on the same partition: same actor): late, no alert
    h.send(_event(first, now - timedelta(hours=1), action="mfa.disable"))
    # then one on time, by the same actor in a new window: it alerts, so the worker runs
    h.send(_event(first, now + timedelta(hours=2), action="mfa.disable"))
    alert = h.next_alert("auth.mfa_disabled", 120)
    assert alert is not None, f"no alert after the restart:\n{h.tail()}"
    assert alert["first_event_ts"] >= now + timedelta(hours=2), "the late event alerted"


def test_duplicates_are_skipped_and_reported(h: Harness) -> None:
    """The same event three times (a producer's retries): evaluated once, the two copies
    counted and logged (``auditpipe_detector_duplicates`` counts the same)."""
    doc = _event(f"ps:test:{uuid.uuid4().hex[:12]}", datetime.now(UTC), action="mfa.disable")
    for _ in range(3):
        h.send(doc)
    assert h.next_alert("auth.mfa_disabled", 90) is not None, h.tail()
    assert h.committed_all(60), f"detector did not commit its input:\n{h.tail()}"
    deadline = time.monotonic() + 10
    while "duplicate events skipped" not in h.tail() and time.monotonic() < deadline:
        time.sleep(0.2)
    line = next(ln for ln in h.tail().splitlines() if "duplicate events skipped" in ln)
    assert orjson.loads(line)["duplicates"] == 2, line
