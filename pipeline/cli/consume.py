"""`auditpipe consume`: print a topic's events as JSON Lines (Avro decoded via the registry)."""

from __future__ import annotations

import sys
import time
import uuid

import orjson
import typer
from rich.console import Console

from pipeline.errors import DeserializationError
from pipeline.events import jsonform
from pipeline.events.serde import GenericAvroDecoder, registry_client
from pipeline.kafka import clients
from pipeline.settings import load_settings

console = Console(stderr=True)


def consume(
    topic: str = typer.Option(..., "--topic", "-t", help="topic to read"),
    from_beginning: bool = typer.Option(True, help="start at the earliest offset"),
    max_events: int = typer.Option(
        0, "--max", "-n", min=0, help="stop after N events (0: no limit)"
    ),
    idle_timeout: float = typer.Option(
        5.0, "--idle-timeout", help="stop after this many seconds without a new event (0: never)"
    ),
    group: str | None = typer.Option(None, "--group", help="consumer group (default: a new one)"),
    with_meta: bool = typer.Option(False, "--meta", help="wrap each event with partition/offset"),
) -> None:
    """Print events as JSON Lines, one per line, in the JSON form of their schema."""
    settings = load_settings()
    conn = clients.connection(settings, "auditpipe-consume")
    decoder = GenericAvroDecoder(registry_client(settings.registry_url))
    consumer = clients.consumer(
        conn,
        group or f"auditpipe-consume-{uuid.uuid4()}",
        {
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": group is not None,
        },
    )
    consumer.subscribe([topic])
    out = sys.stdout.buffer
    n = bad = 0
    last = time.monotonic()
    try:
        while not max_events or n < max_events:
            msg = consumer.poll(0.5)
            if msg is None:
                if idle_timeout and time.monotonic() - last > idle_timeout:
                    break
                continue
            err = msg.error()
            if err is not None:
                console.print(f"[red]kafka error:[/] {err}")
                continue
            last = time.monotonic()
            value = msg.value()
            if value is None:
                continue
            try:
                schema, datum = decoder.decode(value)
                doc = jsonform.to_json(schema, datum)
            except DeserializationError as exc:
                bad += 1
                console.print(
                    f"[red]{msg.topic()}[{msg.partition()}]@{msg.offset()}:[/] {exc.reason}",
                    highlight=False,
                )
                continue
            if with_meta:
                doc = {"partition": msg.partition(), "offset": msg.offset(), "event": doc}
            out.write(orjson.dumps(doc) + b"\n")
            n += 1
    except KeyboardInterrupt:
        pass
    finally:
        out.flush()
        consumer.close()
    console.print(f"read {n:,} events from {topic}" + (f", {bad} undecodable" if bad else ""))
