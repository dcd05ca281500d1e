"""The streaming detector on the real broker with realistic traffic: every shipped rule's
incidents, mixed into benign background, alert within a second of their triggering event, and
benign background alone raises nothing."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.detect.changelog import changelog_topic
from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.harness import detector_scenario as scenario
from tests.harness.detector_probe import (
    AlertCollector,
    EventFeed,
    committed_all,
    percentile,
    start_worker,
    stop_worker,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "rules" / "detection")
PARTITIONS = 3


@dataclass
class Detector:
    """A detector worker (subprocess) on topics of its own, with a feed and an alert reader."""

    events: str
    app_id: str
    feed: EventFeed
    alerts: AlertCollector
    conn: KafkaConnection
    start: Callable[[], subprocess.Popen[bytes]]
    log: Path  # the workers' output (INFO), shown when an assertion fails
    worker: subprocess.Popen[bytes] | None = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def committed_all(self, timeout: float) -> bool:
        return committed_all(self.conn, self.app_id, self.events, timeout)

    def kill_and_restart(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(10)
        self.worker = self.start()

    def canary(self, before: str) -> str:
        """Send ``scenario.canary`` and wait for its alert; its dedup key."""
        doc = scenario.canary(before)
        (alert,) = Engine(RULES).process(doc)
        self.feed.send([doc])
        # the first run includes the worker's start-up and partition assignment
        assert not self.alerts.wait_for([alert["dedup_key"]], 120), "detector never alerted"
        return str(alert["dedup_key"])


@pytest.fixture
def detector(
    stack: Settings,
    kafka_conn: KafkaConnection,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Detector]:
    """A worker with default settings, or with the CLI options the test passes (indirect)."""
    monkeypatch.setenv("AUDITPIPE_LOG_LEVEL", "INFO")
    run = uuid.uuid4().hex[:8]
    events, alerts, app_id = f"t{run}.events", f"t{run}.alerts", f"det-{run}"
    ensure_topics(kafka_conn, [TopicSpec(events, PARTITIONS), TopicSpec(alerts, PARTITIONS)])
    log_path = tmp_path / "detector.log"
    log = log_path.open("wb")
    args = tuple(getattr(request, "param", ()))
    if "{spray_rules}" in args:
        rules = str(request.getfixturevalue("spray_rules"))
        args = tuple(rules if a == "{spray_rules}" else a for a in args)

    def start() -> subprocess.Popen[bytes]:
        topics = {"events": events, "alerts": alerts}
        return start_worker(app_id, topics, cwd=ROOT, log=log, args=args)

    collector = AlertCollector(kafka_conn, stack.registry_url, alerts, f"r-{run}")
    feed = EventFeed(kafka_conn, stack.registry_url, events)
    detector = Detector(events, app_id, feed, collector, kafka_conn, start, log_path, start())
    try:
        yield detector
    finally:
        if detector.worker is not None:
            stop_worker(detector.worker)
        collector.close()
        log.close()
        internal = [
            changelog_topic(app_id),
            f"{app_id}-by-actor.ip",  # the repartition test's lane
        ]
        delete_topics(kafka_conn, [events, alerts, *internal])


def _summary(received: dict[str, Any]) -> Counter[str]:
    return Counter(r.alert["rule_id"] for r in received.values())


def test_every_rule_alerts_within_a_second_amid_background(detector: Detector) -> None:
    sc = scenario.build(RULES, background_events=4000, tag=detector.app_id, copies=2, seed=11)
    expected = sc.expected
    # every shipped alerting rule has an incident that must alert
    assert {e.rule_id for e in expected.values()} == set(RULES.alerting_ids())
    canary = detector.canary(sc.events[0]["ts"])

    detector.feed.send(sc.events, rate=400)
    assert detector.committed_all(120), "detector did not process its input"
    assert detector.alerts.drain(30)
    missing = detector.alerts.wait_for(expected, 5)
    got = detector.alerts.first_by_key()
    assert not missing, f"no alert for {[(expected[k].rule_id, k) for k in missing]}"
    extra = {k: r.alert for k, r in got.items() if k not in expected and k != canary}
    assert not extra, f"unexpected alerts: {_summary({k: got[k] for k in extra})}"

    latencies: list[float] = []
    slowest: list[tuple[float, str]] = []
    for key, want in expected.items():
        alert = got[key].alert
        assert (alert["rule_id"], alert["group"]) == (want.rule_id, want.group)
        assert want.trigger in alert["sample_event_ids"]
        latencies.append(got[key].arrival - detector.feed.stamps[want.trigger])
        slowest.append((latencies[-1], want.rule_id))
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"\n{len(latencies)} alerts ({dict(_summary({k: got[k] for k in expected}))}) over "
        f"{len(sc.events)} events: latency from the trigger's Kafka timestamp to arrival "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
        + "slowest "
        + ", ".join(f"{rule} {t * 1000:.0f} ms" for t, rule in sorted(slowest)[-3:])
    )
    assert p99 < 1.0, f"p99 alert latency {p99:.3f}s"


def test_benign_background_raises_no_alert(detector: Detector) -> None:
    events = scenario.background(6000, seed=23, tag=detector.app_id)
    actors = {e["actor"]["id"] for e in events}
    countries = {e["actor"].get("country") for e in events}
    exports = [e for e in events if e["action"] == "export" and e["outcome"] == "SUCCESS"]
    assert len(actors) > 300
    assert len(countries) > 5
    assert len(exports) > 50
    assert Engine(RULES).run(events) == []  # the offline engine agrees: nothing to find
    canary = detector.canary(events[0]["ts"])

    detector.feed.send(events)
    assert detector.committed_all(120), "detector did not process its input"
    assert detector.alerts.drain(30)
    got = {k: r for k, r in detector.alerts.first_by_key().items() if k != canary}
    assert not got, f"benign traffic alerted: {_summary(got)}"


@pytest.mark.parametrize(
    "detector", [("--sweep-interval", "1", "--idle-after", "2", "--lateness", "0")], indirect=True
)
def test_idle_partition_closes_its_window_by_timer(detector: Detector) -> None:
    """No event follows the storm: the timer advances the idle partition's event time, the
    1 h window closes, and the update the storm policy held back goes out."""
    docs = []
    for second in (57, 58, 59):  # three MFA disables just before the window ends at 11:00
        doc = scenario.canary("2026-11-01T11:01:00Z", tag=detector.app_id)
        doc["ts"] = f"2026-11-01T10:59:{second}Z"
        docs.append(doc)
    for doc in docs[1:]:
        doc["actor"] = docs[0]["actor"]
    engine = Engine(RULES, EngineConfig(allowed_lateness_s=0))
    held = [a["count"] for doc in docs for a in engine.process(doc)]
    assert held == [1, 2]  # count 3 is neither double the last sent nor a minute later
    detector.feed.send(docs)
    key = next(iter(scenario.oracle(RULES, docs[:1])))
    assert not detector.alerts.wait_for([key], 120), "detector never alerted"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = [r.alert["count"] for r in detector.alerts.received if r.alert["dedup_key"] == key]
        if 3 in counts:
            break
        time.sleep(0.2)
    assert counts == [1, 2, 3], counts


SPRAY = """title: Failed login
name: t.spray.failure
logsource: {product: auditpipe}
detection:
  s: {action: login, outcome: FAILURE}
  condition: s
---
title: Password spray from one address
name: t.spray
level: high
correlation:
  type: value_count
  rules: [t.spray.failure]
  group-by: [actor.ip]
  timespan: 10m
  condition: {gte: 12, field: actor.id}
auditpipe:
  examples:
    - name: twelve actors fail from one address
      alerts: 1
      events:
EVENTS
    - name: one actor failing often is not a spray
      alerts: 0
      events: [{outcome: FAILURE, actor: {ip: 192.0.2.7}, repeat: 20}]
"""


@pytest.fixture
def spray_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in (ROOT / "rules" / "detection").glob("*.yml"):
        (rules / path.name).write_text(path.read_text())
    events = "\n".join(
        f"        - {{outcome: FAILURE, actor: {{id: usr_{i:06d}, ip: 192.0.2.7}}}}"
        for i in range(12)
    )
    (rules / "t.spray.yml").write_text(SPRAY.replace("EVENTS", events))
    return rules


@pytest.mark.parametrize(
    "detector", [("--rules", "{spray_rules}", "--loglevel", "info")], indirect=True
)
def test_rules_grouped_by_another_key_are_repartitioned(detector: Detector) -> None:
    """Twelve actors (so several partitions of the input) fail to log in from one address:
    only a lane keyed by actor.ip sees all twelve, and none is lost to a kill -9."""
    docs = []
    for i in range(12):
        doc = scenario.canary("2026-11-01T09:10:00Z", tag=f"{detector.app_id}-{i}")
        doc.update(action="login", outcome="FAILURE", ts=f"2026-11-01T09:00:{i:02d}Z")
        doc["actor"] = {**doc["actor"], "ip": "192.0.2.7"}
        docs.append(doc)
    # half of them, then kill -9 once audit.events is committed: nothing may be lost, whether
    # the lane recovers its state from the changelog or re-reads forwarded events
    detector.feed.send(docs[:6])
    assert detector.committed_all(120), f"first half not processed:\n{detector.tail()}"
    detector.kill_and_restart()
    detector.feed.send(docs[6:])
    deadline = time.monotonic() + 120
    spray: list[dict[str, Any]] = []
    while not spray and time.monotonic() < deadline:
        spray = [r.alert for r in detector.alerts.received if r.alert["rule_id"] == "t.spray"]
        time.sleep(0.2)
    assert spray, f"no password-spray alert (not brought together by actor.ip):\n{detector.tail()}"
    assert spray[0]["group"] == {"actor.ip": "192.0.2.7"}
    assert spray[0]["count"] == 12
