"""Alerts reach the long-term archive (issue 12): the archiver's alerts source records every
`audit.alerts` record as an audit event in both regions; `verify` is clean on each and
`verify --compare` finds both identical; the archived event carries the alert (real broker,
registry and S3)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.archive.format import keys as keys_mod
from pipeline.archive.format.s3store import open_url
from pipeline.archive.write.alerts import ACTION, alert_event_id
from pipeline.archive.write.runner import build_stage
from pipeline.cli.main import app
from pipeline.events.schemas import ALERT
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.replay.archive_source import replay_archive
from pipeline.replay.filters import compile_filters
from pipeline.replay.output import ListSink
from pipeline.replay.window import Window
from pipeline.settings import Settings, load_settings
from tests.integration.archive_events import archived

pytestmark = pytest.mark.integration
REGIONS = ["us-east-1", "eu-central-1"]


def _alert(i: int, now: datetime) -> dict[str, Any]:
    return {
        "alert_id": f"al-{uuid.uuid4().hex}",
        "rule_id": "auth.brute_force" if i % 2 else "admin.break_glass",
        "title": "many failed logins",
        "severity": "HIGH",
        "ts": now + timedelta(milliseconds=i),
        "group": {"actor.id": f"ps:k1:{i:04d}"},
        "count": 12 + i,
        "window_start": now - timedelta(minutes=5),
        "window_end": now,
        "first_event_ts": now - timedelta(minutes=4),
        "last_event_ts": now,
        "sample_event_ids": [str(uuid.uuid4())],
        "request_ids": [f"req-{i}"],
        "trace_ids": [f"trace-{i}"],
        "dedup_key": f"auth.brute_force|{i}",
        "runbook": "docs/runbooks/x.md",
        "tags": ["attack.t1110"],
        "service": "auth-api",
        "team": "identity",
        "details": {"threshold": "10"},
    }


def test_every_alert_is_archived_in_both_regions_and_verifies(
    stack: Settings,
    kafka_conn: KafkaConnection,
    topic_factory: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = topic_factory("test.alerts", partitions=2)
    private, public = keys_mod.generate(tmp_path / "keys")
    monkeypatch.setenv("AUDITPIPE_TOPICS__ALERTS", topic)
    monkeypatch.setenv("AUDITPIPE_ARCHIVE__SIGNING_KEY", str(private))
    monkeypatch.setenv("AUDITPIPE_ARCHIVE__BATCH_AGE_S", "0.5")
    monkeypatch.setenv("AUDITPIPE_ARCHIVE__CHECKPOINT_INTERVAL_S", "1")
    settings = load_settings()
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = [_alert(i, now) for i in range(40)]
    serde = AvroSerde(registry_client(settings.registry_url), ALERT)
    producer = clients.producer(kafka_conn)
    for i, a in enumerate(alerts):
        producer.produce(
            topic, serde.serialize(a, topic), key=a["rule_id"].encode(), partition=i % 2
        )
    assert producer.flush(30) == 0

    run = uuid.uuid4().hex[:10]
    stages = {
        r: build_stage(settings, r, group_id=f"alerts-{run}-{r}", prefix=run, source="alerts")
        for r in REGIONS
    }
    threads = [threading.Thread(target=s.run, daemon=True) for s in stages.values()]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(
            archived(s.store, topic) < len(alerts) for s in stages.values()
        ):
            time.sleep(0.3)
    finally:
        for s in stages.values():
            s.stop()
        for t in threads:
            t.join(60)
    assert {r: archived(s.store, topic) for r, s in stages.items()} == dict.fromkeys(
        REGIONS, len(alerts)
    )
    assert all(s.stats.skipped == 0 for s in stages.values())

    urls = {r: f"s3://{settings.archive.bucket(r)}/{run}" for r in REGIONS}
    done = CliRunner().invoke(
        app,
        ["verify", "--source", urls[REGIONS[0]], "--compare", urls[REGIONS[1]],
         "--public-key", str(public), "--deep", "--jobs", "1"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "FAILED" not in done.output
    assert "compare: same events" in done.output

    # the archived record is the alert, as an audit event, replayable from the archive
    sink = ListSink()
    replay_archive(
        open_url(urls[REGIONS[1]], settings, create=False),
        keys_mod.Keyring.from_file(public),
        topic,
        Window(now - timedelta(minutes=1), now + timedelta(hours=1)),
        compile_filters([f"request_id={alerts[7]['alert_id']}"]),
        sink,
    )
    assert len(sink.events) == 1
    event = sink.events[0]
    assert event["event_id"] == alert_event_id(alerts[7]["alert_id"])
    assert event["action"] == ACTION
    assert event["target"]["type"] == "detection_rule"
    assert event["target"]["id"] == alerts[7]["rule_id"]
    assert event["details"]["group.actor.id"] == "ps:k1:0007"
    assert event["details"]["count"] == "19"
    assert event["details"]["alert.threshold"] == "10"
    assert event["trace_id"] == "trace-7"
