"""`auditpipe demo`: start the local stack and run the whole pipeline on generated traffic.

Built on `auditpipe run all`: services' events (with the personal data real services leak, and
a few attacks) go through the SDK to a raw topic; the sanitizer scrubs them into audit.events
(malformed input to the DLQ); the detector raises alerts; the router delivers them as signed
webhooks to the local receiver, which verifies every signature (and the dry run of
rules/routing.yaml shows who would be paged in production); two archivers write signed batches
to both S3 Object-Lock regions, and the archive is verified from the public key.
"""

from __future__ import annotations

import signal
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.cli.run_all import ensure_stack
from pipeline.cli.safe import clean
from pipeline.demo.flow import DemoResult, run_demo
from pipeline.runall.session import DEFAULT_ROUTING, interrupt
from pipeline.settings import load_settings

console = Console(stderr=True)


def demo(
    events: int = typer.Option(5000, "--events", "-n", min=100, help="generated events"),
    no_stack: bool = typer.Option(
        False, "--no-stack", help="do not start the local stack (use AUDITPIPE_* endpoints)"
    ),
    routing: Path = typer.Option(
        DEFAULT_ROUTING, "--routing", help="routing file; its loopback webhooks get the receiver"
    ),
) -> None:
    """Run the whole pipeline end to end on the local stack and print what happened."""
    settings = load_settings()
    ensure_stack(settings, no_stack)
    signal.signal(signal.SIGTERM, interrupt)  # like Ctrl-C: the stages stop in order
    with console.status("running the pipeline…"):
        r = run_demo(settings, events, console, routing)

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
    verified = sum(d.signature_verified for d in r.deliveries)
    missing = ", ".join(sorted(r.undelivered_rules))
    row(
        "deliver (signed webhooks)",
        bool(r.deliveries) and verified == len(r.deliveries) and not r.undelivered_rules,
        f"{len(r.deliveries)} notifications delivered to the local receiver, {verified} "
        f"signatures verified" + (f"; no notification for {missing}" if missing else ""),
    )
    refused = r.refused.get("unsigned") == 401 and r.refused.get("forged") == 401
    row(
        "receiver refuses forgeries",
        refused,
        "unsigned: HTTP {}, forged signature: HTTP {}".format(
            r.refused.get("unsigned", "-"), r.refused.get("forged", "-")
        ),
    )
    for region, verdict in r.archive.items():
        row(
            f"archive {region}",
            verdict.ok and verdict.summary.events >= r.sanitized,
            f"verified: {verdict.summary.events:,} events in {verdict.summary.batches} signed "
            f"batches, {len(verdict.problems)} problems",
        )
    out = Console()
    out.print(table)
    out.print(deliveries_table(r))
    if not ok:
        raise typer.Exit(1)


def deliveries_table(r: DemoResult) -> Table:
    """The notifications the receiver got and verified: one row per delivery."""
    table = Table(title=f"notifications delivered and verified: {len(r.deliveries)}")
    for col in ("rule", "receiver", "status", "alerts", "signature verified"):
        table.add_column(col)
    for d in sorted(r.deliveries, key=lambda d: (d.rule_ids, d.receiver or "")):
        table.add_row(
            escape(clean(", ".join(d.rule_ids) or "-")),
            escape(clean(d.receiver or "-")),
            escape(clean(d.status or "-")),
            str(len(d.alert_dedup_keys)),
            "[green]yes[/]" if d.signature_verified else "[red]no[/]",
        )
    return table
