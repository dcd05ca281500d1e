"""`auditpipe topics`: create and list the pipeline's topics."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, admin_client, ensure_topics
from pipeline.kafka.topics import pipeline_topics
from pipeline.settings import load_settings

app = typer.Typer(help="The pipeline's Kafka topics.", no_args_is_help=True)


@app.command()
def create(
    raw: list[str] = typer.Option(
        [], "--raw", help="also create raw topics audit.raw.<NAME> (repeatable)"
    ),
) -> None:
    """Create audit.events, audit.dlq, audit.alerts (and raw topics); existing ones are kept."""
    settings = load_settings()
    conn = clients.connection(settings, "auditpipe")
    specs = pipeline_topics(settings)
    specs += [
        TopicSpec(
            f"audit.raw.{name}", settings.topics.partitions, settings.topics.replication_factor
        )
        for name in raw
    ]
    ensure_topics(conn, specs)
    Console(stderr=True).print(f"topics ready: {', '.join(s.name for s in specs)}")


@app.command(name="list")
def list_topics() -> None:
    """List topics with their partition counts."""
    settings = load_settings()
    md = admin_client(clients.connection(settings, "auditpipe")).list_topics(timeout=10)
    table = Table(title=f"topics on {settings.kafka_bootstrap}")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    for name in sorted(md.topics):
        if not name.startswith("__"):
            table.add_row(name, str(len(md.topics[name].partitions)))
    Console().print(table)
