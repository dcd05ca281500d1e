"""`auditpipe demo`: start the local stack and run the whole pipeline on generated traffic.

Services' events (with the personal data real services leak, and a few attacks) go through the
SDK to a raw topic; the sanitizer scrubs them into audit.events (malformed input to the DLQ);
the detector raises alerts; the router shows who would be paged (dry run); two archivers write
signed batches to both S3 Object-Lock regions, and the archive is verified from the public key.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from pipeline.demo.flow import run_demo
from pipeline.settings import load_settings
from pipeline.stack import manager

console = Console(stderr=True)


def demo(
    events: int = typer.Option(5000, "--events", "-n", min=100, help="generated events"),
    no_stack: bool = typer.Option(
        False, "--no-stack", help="do not start the local stack (use AUDITPIPE_* endpoints)"
    ),
) -> None:
    """Run the whole pipeline end to end on the local stack and print what happened."""
    settings = load_settings()
    if not no_stack and not settings.uses_external_services:
        with console.status("starting the local stack…") as st:

            def report(msg: str) -> None:
                st.update(msg)
                console.log(msg)

            manager.up(settings.stack, report)
    with console.status("running the pipeline…"):
        r = run_demo(settings, events, console)

    table = Table(title="auditpipe demo", show_lines=False)
    table.add_column("stage")
    table.add_column("result")
    table.add_column("detail")
    ok = True

    def row(stage: str, good: bool, detail: str) -> None:
        nonlocal ok
        ok &= good
        table.add_row(stage, "[green]ok[/]" if good else "[red]FAILED[/]", detail)

    row("produce (SDK)", r.produced > 0, f"{r.produced:,} events acknowledged")
    row("sanitize", r.sanitized >= r.produced, f"{r.sanitized:,} scrubbed events on audit.events")
    row(
        "no PII leaked",
        r.leaked == 0,
        f"{r.seeded:,} seeded personal values/secrets; {r.leaked} found in audit.events",
    )
    row(
        "dead letters",
        r.dead_letters >= r.malformed,
        f"{r.dead_letters} malformed records in audit.dlq (encrypted)",
    )
    alerts = ", ".join(f"{k} {v}" for k, v in sorted(r.alerts.items())) or "none"
    row("detect", bool(r.alerts), f"alerts: {alerts}")
    notes = ", ".join(f"{k} {v}" for k, v in sorted(r.notifications.items())) or "none"
    row("route (dry run)", bool(r.notifications), f"notifications: {notes}")
    for region, verdict in r.archive.items():
        row(
            f"archive {region}",
            verdict.ok and verdict.summary.events >= r.sanitized,
            f"verified: {verdict.summary.events:,} events in {verdict.summary.batches} signed "
            f"batches, {len(verdict.problems)} problems",
        )
    Console().print(table)
    if not ok:
        raise typer.Exit(1)
