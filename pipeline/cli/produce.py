"""`auditpipe produce`: a realistic load generator, or replay events from a JSON Lines file."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.cli.safe import clean
from pipeline.errors import InvalidEventError
from pipeline.kafka import clients
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topics import spec_for
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator
from pipeline.settings import load_settings

console = Console(stderr=True)


def _from_file(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    with stream:
        for lineno, line in enumerate(stream, 1):
            if line.strip():
                try:
                    yield lineno, orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InvalidEventError(f"{path}:{lineno}: not valid JSON: {exc}") from None


def produce(
    topic: str = typer.Option("audit.raw.demo", "--topic", "-t", help="raw topic to write to"),
    count: int = typer.Option(
        10_000, "--count", "-n", min=0, help="events to generate (0: endless)"
    ),
    rate: float = typer.Option(
        0, "--rate", "-r", min=0, help="events per second (0: as fast as possible)"
    ),
    seed: int = typer.Option(0, "--seed", help="random seed: the same seed, the same events"),
    from_file: Path | None = typer.Option(
        None, "--from-file", "-f", help="produce the events of a JSON Lines file ('-' = stdin)"
    ),
    service: str = typer.Option("auditpipe-produce", "--service", help="producer's service name"),
    create_topic: bool = typer.Option(True, help="create the topic if it does not exist"),
    partitions: int = typer.Option(3, min=1, help="partitions when creating the topic"),
) -> None:
    """Produce audit events through the SDK, with a progress bar and a final summary."""
    settings = load_settings()
    conn = clients.connection(settings, service)
    if create_topic:
        ensure_topics(conn, [spec_for(settings, topic, partitions)])
    config = ProducerConfig(
        kafka=conn, registry_url=settings.registry_url, service=service, topic=topic
    )
    if from_file is not None:
        source: Iterator[tuple[int, dict[str, Any]]] = _from_file(from_file)
        total = None
    else:
        gen = EventGenerator(seed=seed).events()
        source = enumerate(gen if count == 0 else itertools.islice(gen, count), 1)
        total = count or None
    invalid = 0
    t0 = time.perf_counter()
    with (
        AuditProducer(config) as producer,
        Progress(
            TextColumn("[bold]producing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}"),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("produce", total=total, rate="")
        n = 0
        for lineno, doc in source:
            if rate:
                lag = t0 + n / rate - time.perf_counter()
                if lag > 0:
                    time.sleep(lag)
            try:
                producer.emit_event(doc)
            except InvalidEventError as exc:
                if from_file is None:
                    raise
                invalid += 1
                console.print(f"[red]line {lineno}:[/] {escape(clean(exc))}", highlight=False)
                continue
            n += 1
            if n % 1000 == 0:
                elapsed = time.perf_counter() - t0
                progress.update(task, completed=n, rate=f"{n / elapsed:,.0f} ev/s")
        progress.update(task, completed=n)
        remaining = producer.flush(60)
        stats = producer.stats()
    elapsed = time.perf_counter() - t0
    console.print(
        f"produced {stats.emitted:,} events to {topic} in {elapsed:.2f}s "
        f"({stats.emitted / max(elapsed, 1e-9):,.0f} events/s); delivered {stats.delivered:,}, "
        f"delivery failures {stats.failed:,}, spooled {stats.spool_pending:,}"
        + (f", still queued {remaining:,}" if remaining else "")
        + (f", invalid lines {invalid:,}" if invalid else ""),
        highlight=False,
    )
    if invalid or stats.spool_pending or remaining:
        raise typer.Exit(1)
