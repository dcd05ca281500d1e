"""The demo: generated service traffic with incidents → SDK → sanitizer → detector → router →
signed webhooks to the local receiver, and two archivers → a verified archive in both regions.

Built on `auditpipe run all` (:class:`~pipeline.runall.session.RunAll`): the same stages, the
same supervisor, the demo routing file; the demo produces a bounded set of events, reads what
came out of each stage, waits until the receiver verified a notification for every rule that
alerted, stops the stages in order and verifies the archive."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import TopicPartition
from rich.console import Console

from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.s3client import s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.verify.verify import Report, verify
from pipeline.demo.incidents import incidents
from pipeline.demo.producer import producer_config
from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer
from pipeline.produce.generator import EventGenerator, seeded_values
from pipeline.route.config import load_routing
from pipeline.route.engine import Router
from pipeline.route.simulate import simulate
from pipeline.runall.receiver import Delivery, probe_refusals
from pipeline.runall.session import DEFAULT_ROUTING, RunAll, RunAllOptions
from pipeline.settings import Settings

RAW_TOPIC = "audit.raw.demo"


@dataclass
class DemoResult:
    produced: int = 0
    malformed: int = 0
    sanitized: int = 0
    dead_letters: int = 0
    leaked: int = 0
    seeded: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    notifications: Counter[str] = field(default_factory=Counter)
    archive: dict[str, Report] = field(default_factory=dict)
    alert_latency_s: float | None = None
    deliveries: list[Delivery] = field(default_factory=list)  # this run's, verified
    undelivered_rules: set[str] = field(default_factory=set)  # alerted, no notification
    refused: dict[str, int] = field(default_factory=dict)  # unsigned/forged probe -> status


def coverage(
    deliveries: Iterable[Delivery], alert_keys: set[str], alert_rules: set[str]
) -> tuple[list[Delivery], set[str]]:
    """The deliveries (first arrivals, no retries) that carry one of this run's alerts, and
    the rules of this run's alerts no such delivery carries yet."""
    mine = [
        d for d in deliveries if not d.duplicate and alert_keys.intersection(d.alert_dedup_keys)
    ]
    covered = {rule for d in mine for rule in d.rule_ids}
    return mine, alert_rules - covered


def wait_for_deliveries(
    session: RunAll,
    alert_keys: set[str],
    alert_rules: set[str],
    *,
    timeout_s: float = 120.0,
    settle_s: float = 3.0,
) -> tuple[list[Delivery], set[str]]:
    """Until every rule that alerted has a verified notification at the receiver (then
    ``settle_s`` more without a new one, for the other receivers), or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    seen, quiet_since = -1, time.monotonic()
    while True:
        mine, missing = coverage(session.deliveries(), alert_keys, alert_rules)
        if len(mine) != seen:
            seen, quiet_since = len(mine), time.monotonic()
        done = not missing and time.monotonic() - quiet_since >= settle_s
        if done or time.monotonic() > deadline:
            return mine, missing
        session.supervisor.check()
        time.sleep(0.5)


def _end_offsets(conn: KafkaConnection, topic: str) -> list[TopicPartition]:
    probe = clients.consumer(conn, f"demo-probe-{uuid.uuid4()}")
    md = probe.list_topics(topic, timeout=10)
    tps = [
        TopicPartition(
            topic, p, probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        )
        for p in md.topics[topic].partitions
    ]
    probe.close()
    return tps


def _read_from(
    conn: KafkaConnection,
    start: list[TopicPartition],
    until: float,
    *,
    expect: int = 0,
    idle_s: float = 10.0,
) -> list[bytes]:
    """Read from ``start`` until ``expect`` messages arrived, or ``idle_s`` without a message
    once at least ``expect`` (or, for ``expect=0``, one) arrived, or ``until`` passed.

    A slow-starting worker therefore never ends the read early: the idle clock only runs once
    what is expected is in."""
    consumer = clients.consumer(conn, f"demo-{uuid.uuid4()}", {"enable.auto.commit": False})
    consumer.assign(start)
    out: list[bytes] = []
    idle = time.monotonic()
    while time.monotonic() < until:
        batch = consumer.consume(2000, 0.5)
        for msg in batch:
            if msg.error() is None and msg.value() is not None:
                out.append(msg.value())  # type: ignore[arg-type]
        if expect and len(out) >= expect:
            break
        if batch or len(out) < max(expect, 1):
            idle = time.monotonic()
        elif time.monotonic() - idle > idle_s:
            break
    consumer.close()
    return out


def run_demo(
    settings: Settings, events: int, console: Console, routing: Path = DEFAULT_ROUTING
) -> DemoResult:
    result = DemoResult()
    conn = clients.connection(settings, "auditpipe-demo")
    options = RunAllOptions(
        routing=routing,
        raw_topic=RAW_TOPIC,
        dev_keys_override=True,
        instance="demo",
        log_prefix="demo-",
    )
    session = RunAll(settings, options)
    t = settings.topics
    session.prepare()
    client = registry_client(settings.registry_url)
    starts = {name: _end_offsets(conn, name) for name in (t.events, t.dlq, t.alerts)}
    try:
        session.start(console.log)
        now = datetime.now(UTC)
        seeded: set[str] = set()
        config = producer_config(settings, conn, RAW_TOPIC, "spool")
        run = uuid.uuid4().hex[:6]
        gen = EventGenerator(seed=int(time.time()), start=now - timedelta(minutes=10))
        docs = list(itertools.islice(gen.events(), events))
        docs += incidents(f"mallory{run}", now - timedelta(minutes=2))
        with AuditProducer(config) as producer:
            for doc in docs:
                seeded |= seeded_values(doc)
                producer.emit_event(doc)
            producer.flush(60)
            result.produced = producer.stats().delivered
        bad = clients.producer(conn)
        for i in range(3):
            bad.produce(RAW_TOPIC, value=f"legacy log line {i}: user=alice@example.com".encode())
        bad.flush(10)
        result.malformed = 3
        result.seeded = len(seeded)
        console.log(f"produced {result.produced:,} events (+{result.malformed} malformed lines)")

        deadline = time.monotonic() + 180
        values = _read_from(conn, starts[t.events], deadline, expect=result.produced)
        session.supervisor.check()
        result.sanitized = len(values)
        blob = b"".join(values)
        result.leaked = sum(1 for v in seeded if v.encode() in blob)
        result.dead_letters = len(
            _read_from(conn, starts[t.dlq], time.monotonic() + 60, expect=result.malformed)
        )
        alert_serde = AvroSerde(client, ALERT)
        alerts = [
            alert_serde.deserialize(v, t.alerts)
            for v in _read_from(conn, starts[t.alerts], time.monotonic() + 60)
        ]
        alert_schema = parsed_schema(ALERT)
        router = Router(load_routing(settings.rules_dir / "routing.yaml"))
        docs_json = []
        for alert in sorted(alerts, key=lambda a: a["ts"]):
            result.alerts[alert["rule_id"]] += 1
            docs_json.append(jsonform.to_json(alert_schema, alert))
        for note in simulate(router, iter(docs_json)):  # the route --dry-run simulation
            result.notifications[note.receiver] += 1
        console.log("waiting for the router's signed notifications at the local receiver…")
        result.deliveries, result.undelivered_rules = wait_for_deliveries(
            session, {str(a["dedup_key"]) for a in alerts}, set(result.alerts)
        )
        result.refused = probe_refusals(session.plan.receiver_url)
    finally:
        console.log("stopping the stages in order (archivers write their open batches first)")
        session.stop(console.log)

    keyring = Keyring.from_dir(session.keyring())  # the keys `verify --keyring` is shown with
    for region in settings.s3_regions:
        store = S3ObjectLockStore(s3_client(settings, region), settings.archive.bucket(region))
        result.archive[region] = verify(store, keyring, topics=[t.events])
    return result
