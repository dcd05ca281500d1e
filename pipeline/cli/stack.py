"""`auditpipe stack`: start, stop and inspect the local development stack."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from pipeline.settings import load_settings
from pipeline.stack import manager, s3iam

app = typer.Typer(
    help="The local stack: Kafka (KRaft), schema registry, two S3 Object-Lock regions.",
    no_args_is_help=True,
)
console = Console(stderr=True)


def _table(rows: list[manager.ServiceStatus]) -> Table:
    table = Table(title="auditpipe local stack")
    table.add_column("service")
    table.add_column("state")
    table.add_column("pid", justify="right")
    table.add_column("listens")
    table.add_column("detail")
    colours = {"up": "green", "starting": "yellow", "down": "red"}
    for r in rows:
        table.add_row(
            r.name,
            f"[{colours[r.state]}]{r.state}[/]",
            str(r.pid or "-"),
            r.listens,
            r.detail if r.up else f"{r.detail} (log: {r.log})",
        )
    return table


@app.command()
def up(
    secure: bool = typer.Option(
        False,
        "--secure",
        help="secured broker only: SASL_SSL listener, no PLAINTEXT, the admin the only super "
        "user (or AUDITPIPE_STACK__SECURE=true)",
    ),
) -> None:
    """Fetch what is missing, start every service that is not running, wait until healthy."""
    settings = load_settings()
    cfg = settings.stack
    if secure:
        cfg = cfg.model_copy(update={"secure": True})
    with console.status("starting the local stack…") as st:

        def report(msg: str) -> None:
            st.update(msg)
            console.log(msg)

        rows = manager.up(cfg, report)
        if cfg.s3_iam and all(r.up for r in rows):
            report("S3 accounts and bucket policies (AUDITPIPE_STACK__S3_IAM)")
            s3iam.provision(cfg, settings.archive.bucket_prefix)
    Console().print(_table(rows))
    if cfg.s3_iam:
        console.print(f"S3 role credentials: {s3iam.credentials_dir(cfg)}/<role>.env")


@app.command()
def down(
    purge: bool = typer.Option(False, "--purge", help="also delete Kafka, registry and S3 data"),
) -> None:
    """Stop every service of the stack (idempotent)."""
    cfg = load_settings().stack
    manager.down(cfg, purge=purge, report=console.log)
    console.log("stack is down")


@app.command()
def status() -> None:
    """Show each service up or down; exit code 1 unless all are up."""
    cfg = load_settings().stack
    rows = manager.status(cfg)
    Console().print(_table(rows))
    if not all(r.up for r in rows):
        raise typer.Exit(1)


@app.command()
def logs(
    service: str = typer.Argument(..., help="kafka, schema-registry, s3-us-east-1, …"),
    lines: int = typer.Option(50, "--lines", "-n", min=1, help="how many lines"),
) -> None:
    """Print the last lines of one service's log."""
    cfg = load_settings().stack
    typer.echo(manager.logs(cfg, service, lines))


@app.command()
def fetch() -> None:
    """Download/build the stack's jars and binaries without starting anything."""
    from pipeline.stack import fetch as fetch_mod

    cfg = load_settings().stack
    fetch_mod.fetch_all(cfg, console.log)
    console.log(f"artifacts ready under {cfg.root}")
