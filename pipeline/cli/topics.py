"""`auditpipe topics create|apply|check|list`: the pipeline's topics, as the table declares them.

The table is the rules directory's ``topics.yaml`` (``--file`` to name another): retention,
segment length and cleanup per topic role (see ``pipeline.kafka.topics``). ``apply`` creates the
missing topics and sets every declared config that differs, printing the diff (``+`` created,
``~`` changed); ``--dry-run`` only prints it; a second run finds nothing to do. ``check`` prints
the drift and exits 1 when there is any. Both talk to the broker as the admin (``--client-config``
as for ``auditpipe acl``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.acl import CLIENT_CONFIG_OPTION, admin_connection
from pipeline.cli.safe import EXIT_FAILED, clean
from pipeline.kafka import clients, topics, topicsync
from pipeline.kafka.admin import admin_client, ensure_topics
from pipeline.kafka.clients import Admin
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings, load_settings

app = typer.Typer(help="The pipeline's Kafka topics.", no_args_is_help=True)

TABLE_OPTION = typer.Option(
    None, "--file", "-f", help="the topic table (default: RULES_DIR/topics.yaml)"
)
RAW_OPTION = typer.Option([], "--raw", help="also create raw topics audit.raw.<NAME> (repeatable)")


def table_of(settings: Settings, file: Path | None) -> topics.TopicTable:
    return topics.load_table(file) if file is not None else topics.table_for(settings)


@app.command()
def create(raw: list[str] = RAW_OPTION, file: Path | None = TABLE_OPTION) -> None:
    """Create the pipeline's topics (and raw topics) as declared; existing ones are kept."""
    settings = load_settings()
    table = table_of(settings, file)
    conn = clients.connection(settings, "auditpipe")
    specs = topics.pipeline_topics(settings, table)
    specs += [topics.raw_spec(settings, table, f"audit.raw.{name}") for name in raw]
    ensure_topics(conn, specs)
    Console(stderr=True).print(f"topics ready: {', '.join(s.name for s in specs)}")


def _plan(
    file: Path | None, client_config_file: Path | None, raw: list[str]
) -> tuple[topicsync.TopicPlan, KafkaConnection, Admin]:
    settings = load_settings()
    table = table_of(settings, file)
    conn = admin_connection(settings, client_config_file)
    admin = clients.admin(conn)
    p = topicsync.plan(admin, settings, table, raw=[f"audit.raw.{n}" for n in raw])
    for line in p.lines():
        typer.echo(clean(line))
    return p, conn, admin


@app.command()
def apply(
    file: Path | None = TABLE_OPTION,
    raw: list[str] = RAW_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="show the diff, change nothing"),
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Create missing topics and set their declared configs (retention.ms, segment.ms, ...)."""
    p, conn, admin = _plan(file, client_config_file, raw)
    if p.in_sync:
        typer.echo(f"{len(p.managed)} topics match the table; nothing to do")
        return
    if dry_run:
        typer.echo(f"dry run: {len(p.create)} to create, {len(p.alter)} configs to set")
        return
    topicsync.apply_plan(conn, admin, p)
    typer.echo(f"applied: {len(p.create)} created, {len(p.alter)} configs set")


@app.command()
def check(
    file: Path | None = TABLE_OPTION,
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Report drift between the broker's topics and the table; exit 1 when there is any."""
    p, _, _ = _plan(file, client_config_file, [])
    if not p.in_sync:
        typer.echo(f"drift: {len(p.create)} topics missing, {len(p.alter)} configs differ")
        raise typer.Exit(EXIT_FAILED)
    typer.echo(f"{len(p.managed)} topics match the table ({len(p.unmanaged)} not in it)")


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
