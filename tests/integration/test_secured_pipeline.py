"""The whole pipeline end to end in secured mode (issue 12): every stage a real `auditpipe run`
process as its own principal over the shared stack's SASL_SSL listener (its properties file in
``AUDITPIPE_KAFKA__CLIENT_CONFIG``, the shipped ACLs applied): events in as ``producer``,
scrubbed events and alerts out (read back as ``analyst``), both regions' archives (events and
alerts, each archiver as ``archiver-<region>``) verified and identical."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from typer.testing import CliRunner

from pipeline.archive.format.s3client import s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.cli.main import app
from pipeline.demo.flow import incidents
from pipeline.events.schemas import ALERT
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.runall.devkeys import DevKeys
from pipeline.runall.supervisor import StageSpec, Supervisor
from pipeline.settings import Settings
from tests.integration.archive_events import archived
from tests.integration.authz import Principals, end_offsets

pytestmark = pytest.mark.integration


def _values_since(
    conn: KafkaConnection, topic: str, since: dict[int, int], done: Any, timeout: float
) -> list[bytes]:
    """Values of ``topic`` after ``since`` until ``done(values)`` or the timeout."""
    consumer = clients.consumer(conn, f"analyst-{uuid.uuid4().hex[:8]}")
    consumer.assign([TopicPartition(topic, p, o) for p, o in since.items()])
    out: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(out):
            out += [m.value() or b"" for m in consumer.consume(500, 0.5) if m.error() is None]
    finally:
        consumer.close()
    return out


def test_the_pipeline_runs_end_to_end_with_a_principal_per_stage(
    stack: Settings, principals: Principals, tmp_path: Path, raw_topic: str
) -> None:
    analyst = principals.conn("analyst")
    keys = DevKeys.ensure(tmp_path / "keys")
    run, t, regions = uuid.uuid4().hex[:8], stack.topics, list(stack.s3_regions)
    events_since, alerts_since = end_offsets(analyst, t.events), end_offsets(analyst, t.alerts)

    def as_(principal: str, *argv: str) -> StageSpec:
        props = principals.files.client_properties(principal)
        return StageSpec(
            principal, ("run", *argv), env={"AUDITPIPE_KAFKA__CLIENT_CONFIG": str(props)}
        )

    specs = [
        as_("sanitizer", "sanitizer"),
        as_("detector", "detector"),
        *(as_(f"archiver-{r}", "archiver", "--region", r, "--prefix", run) for r in regions),
    ]
    workers = Supervisor(
        specs, logs_dir=tmp_path / "logs", run_dir=tmp_path / "run", env=keys.env()
    )
    for spec in specs:
        workers.start(spec.name)
    try:
        docs = incidents(f"e2e{run}", datetime.now(UTC) - timedelta(minutes=2))
        config = ProducerConfig(
            kafka=principals.conn("producer"),
            registry_url=stack.registry_url,
            service="e2e-secured",
            topic=raw_topic,
            spool_dir=tmp_path / "spool",
        )
        with AuditProducer(config) as sdk:
            for doc in docs:
                sdk.emit_event(doc)
            assert sdk.flush(60) == 0
        ids = {d["event_id"].encode() for d in docs}

        # scrubbed events out: all of ours, no e-mail address left
        def all_in(values: list[bytes]) -> bool:
            return sum(1 for v in values for i in ids if i in v) >= len(ids)

        values = _values_since(analyst, t.events, events_since, all_in, 240)
        workers.check()
        ours = [v for v in values if any(i in v for i in ids)]
        assert len({i for v in ours for i in ids if i in v}) == len(ids)
        assert not any(f"e2e{run}".encode() in v for v in ours), "an actor e-mail leaked"

        # alerts out: the shipped rules catch the brute force, the probe and the key dump
        serde = AvroSerde(registry_client(stack.registry_url), ALERT)
        wanted = {"auth.bruteforce_success", "authz.denied_spike", "crypto.decrypt_spike"}

        def rules(values: list[bytes]) -> set[str]:
            return {str(serde.deserialize(v, t.alerts)["rule_id"]) for v in values}

        alerts = _values_since(analyst, t.alerts, alerts_since, lambda v: rules(v) >= wanted, 180)
        assert rules(alerts) >= wanted

        # both regions archive everything up to here, events and alerts
        events_end, alerts_end = end_offsets(analyst, t.events), end_offsets(analyst, t.alerts)
        stores = {
            r: S3ObjectLockStore(s3_client(stack, r), stack.archive.bucket(r), run) for r in regions
        }
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and any(
            archived(s, t.events) < sum(events_end.values())
            or archived(s, t.alerts) < sum(alerts_end.values())
            for s in stores.values()
        ):
            time.sleep(1)
        workers.check()
    finally:
        workers.stop_all()
    for s in stores.values():
        assert archived(s, t.events) >= sum(events_end.values())
        assert archived(s, t.alerts) >= sum(alerts_end.values())

    urls = [f"s3://{stack.archive.bucket(r)}/{run}" for r in regions]
    done = CliRunner().invoke(
        app,
        ["verify", "--source", urls[0], "--compare", urls[1],
         "--public-key", str(keys.public_key), "--reason", f"e2e {run}"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "compare: same events" in done.output
