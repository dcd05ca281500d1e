"""The demo: generated service traffic with incidents → SDK → sanitizer → detector → router
(dry run) and two archivers → a verified archive in both regions."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import TopicPartition
from rich.console import Console

from pipeline.archive.format.keys import Keyring, load_public_key
from pipeline.archive.format.s3client import s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.verify.verify import Report, verify
from pipeline.demo.workers import DemoSecrets, Workers
from pipeline.events import jsonform, registry
from pipeline.events.schemas import ALERT, parsed_schema, schema_files
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topics import pipeline_topics
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator, seeded_values
from pipeline.route.config import load_routing
from pipeline.route.engine import Router
from pipeline.route.simulate import simulate
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


def incidents(actor_prefix: str, start: datetime) -> list[dict[str, Any]]:
    """A handful of attacks the shipped rules must catch."""

    def ev(actor: str, ts: datetime, **over: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "ts": jsonform.format_ts(ts),
            "service": "auth-service",
            "environment": "demo",
            "category": "AUTHN",
            "action": "login",
            "outcome": "SUCCESS",
            "actor": {"id": actor, "type": "user", "country": "DE", "ip": "81.2.69.160"},
            "request_id": str(uuid.uuid4()),
        }
        doc.update(over)
        return doc

    bf, probe, kms = (f"{actor_prefix}.{n}@example.com" for n in ("bf", "probe", "kms"))
    out = [ev(bf, start + timedelta(seconds=i), outcome="FAILURE") for i in range(15)]
    out.append(ev(bf, start + timedelta(seconds=20)))
    out += [
        ev(
            probe,
            start + timedelta(seconds=i),
            category="AUTHZ",
            action="access.check",
            outcome="DENIED",
            authz={"decision": "DENY", "permission": "billing.read"},
            service="billing-api",
        )
        for i in range(40)
    ]
    out += [
        ev(
            kms,
            start + timedelta(seconds=i / 4),
            category="DATA_ACCESS",
            action="key.decrypt",
            service="kms-proxy",
        )
        for i in range(400)
    ]
    out.append(
        ev(
            f"{actor_prefix}.admin@example.com",
            start + timedelta(seconds=30),
            category="ADMIN",
            action="role.grant",
            service="admin-console",
            target={"type": "user", "id": "usr_000007"},
            authz={"decision": "ALLOW", "role": "admin"},
        )
    )
    return out


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


def run_demo(settings: Settings, events: int, console: Console) -> DemoResult:
    result = DemoResult()
    conn = clients.connection(settings, "auditpipe-demo")
    demo_dir = settings.stack.root / "demo"
    secrets = DemoSecrets.ensure(demo_dir)
    t = settings.topics
    ensure_topics(conn, [*pipeline_topics(settings), TopicSpec(RAW_TOPIC, t.partitions)])
    client = registry_client(settings.registry_url)
    for path in schema_files():
        registry.register(client, path)
    starts = {name: _end_offsets(conn, name) for name in (t.events, t.dlq, t.alerts)}

    workers = Workers(settings.stack.logs_dir, secrets.env())
    workers.start("sanitizer", "sanitizer")
    workers.start("detector", "detector")
    for region in settings.s3_regions:
        workers.start(f"archiver-{region}", "archiver", "--region", region)
    try:
        console.log("workers started: sanitizer, detector, archiver x2")
        now = datetime.now(UTC)
        seeded: set[str] = set()
        config = ProducerConfig(
            kafka=conn,
            registry_url=settings.registry_url,
            service="demo-services",
            environment="demo",
            topic=RAW_TOPIC,
            spool_dir=demo_dir / "spool",
        )
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
        workers.check()
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
    finally:
        console.log("stopping workers (archivers write their open batches first)")
        workers.stop()

    keyring = Keyring([load_public_key(secrets.public_key)])
    for region in settings.s3_regions:
        store = S3ObjectLockStore(s3_client(settings, region), settings.archive.bucket(region))
        result.archive[region] = verify(store, keyring, topics=[t.events])
    return result
