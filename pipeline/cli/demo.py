"""`auditpipe demo`: start the local stack and push events through it end to end.

The demo grows as the stages land. Today it shows the foundation working: events produced to
and consumed from the real broker, a schema registered in the real registry, and an Object-Lock
(COMPLIANCE) object in each S3 region that refuses deletion.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import typer
from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from pipeline.archive.s3client import ensure_object_lock_bucket, s3_client
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings, load_settings
from pipeline.stack import manager

console = Console(stderr=True)

DEMO_TOPIC = "audit.raw.demo"
DEMO_SCHEMA = {
    "type": "record",
    "name": "DemoEvent",
    "namespace": "dev.auditpipe.demo",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "action", "type": "string"},
    ],
}


def demo(
    events: int = typer.Option(200, "--events", "-n", min=1, help="how many events to produce"),
    no_stack: bool = typer.Option(
        False, "--no-stack", help="do not start the local stack (use AUDITPIPE_* endpoints)"
    ),
) -> None:
    """Start the local stack and run the pipeline end to end on demo events."""
    settings = load_settings()
    if not no_stack and not settings.uses_external_services:
        with console.status("starting the local stack…") as st:

            def report(msg: str) -> None:
                st.update(msg)
                console.log(msg)

            manager.up(settings.stack, report)
    results: list[tuple[str, str, str]] = []
    results.append(_kafka_round_trip(settings, events))
    results.append(_registry_round_trip(settings))
    results.extend(_object_lock(settings))
    table = Table(title="auditpipe demo")
    table.add_column("step")
    table.add_column("result")
    table.add_column("detail")
    for step, result, detail in results:
        colour = "green" if result == "ok" else "red"
        table.add_row(step, f"[{colour}]{result}[/]", detail)
    Console().print(table)
    if any(r != "ok" for _, r, _ in results):
        raise typer.Exit(1)


def _kafka_round_trip(settings: Settings, n: int) -> tuple[str, str, str]:
    conn = KafkaConnection(bootstrap_servers=settings.kafka_bootstrap, client_id="auditpipe-demo")
    ensure_topics(conn, [TopicSpec(DEMO_TOPIC, partitions=3)])
    producer = Producer(
        {**conn.to_librdkafka(), "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    acked: set[str] = set()
    failed: list[str] = []

    def on_delivery(err: object, msg: object) -> None:
        if err is not None:
            failed.append(str(err))
        else:
            acked.add(msg.key().decode())  # type: ignore[attr-defined]

    sent: set[str] = set()
    t0 = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("producing", total=n)
        for i in range(n):
            event_id = str(uuid.uuid4())
            doc = {
                "event_id": event_id,
                "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "service": "demo",
                "action": ["login", "read", "export", "role.grant"][i % 4],
            }
            producer.produce(
                DEMO_TOPIC, key=event_id, value=orjson.dumps(doc), on_delivery=on_delivery
            )
            producer.poll(0)
            sent.add(event_id)
            progress.advance(task)
        producer.flush(30)
    produced_s = time.perf_counter() - t0

    consumer = Consumer(
        {
            **conn.to_librdkafka(),
            "group.id": f"auditpipe-demo-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([DEMO_TOPIC])
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while not sent <= seen and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        value = msg.value()
        if value is not None:
            seen.add(orjson.loads(value)["event_id"])
    consumer.close()
    ok = not failed and acked == sent and sent <= seen
    detail = (
        f"{len(acked)}/{n} acknowledged in {produced_s:.2f}s, "
        f"{len(sent & seen)}/{n} read back from {DEMO_TOPIC}"
    )
    return ("kafka produce + consume", "ok" if ok else "FAILED", detail)


def _registry_round_trip(settings: Settings) -> tuple[str, str, str]:
    client = SchemaRegistryClient({"url": settings.registry_url})
    subject = f"{DEMO_TOPIC}-value"
    schema_id = client.register_schema(subject, Schema(orjson.dumps(DEMO_SCHEMA).decode(), "AVRO"))
    fetched = client.get_schema(schema_id)
    ok = orjson.loads(fetched.schema_str or "{}").get("name") == DEMO_SCHEMA["name"]
    return ("schema registry", "ok" if ok else "FAILED", f"subject {subject} id {schema_id}")


def _object_lock(settings: Settings) -> list[tuple[str, str, str]]:
    rows = []
    for region in settings.s3_regions:
        s3 = s3_client(settings, region)
        bucket = f"auditpipe-demo-{region}"
        ensure_object_lock_bucket(s3, bucket, region)
        key = f"demo/{uuid.uuid4()}.txt"
        put = s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=b"auditpipe demo object",
            ChecksumAlgorithm="SHA256",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(minutes=5),
        )
        try:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=put["VersionId"])
            rows.append((f"object lock {region}", "FAILED", "a locked version was deleted"))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            rows.append(
                (f"object lock {region}", "ok", f"delete of locked version refused ({code})")
            )
    return rows
