"""`auditpipe run all`: every stage of the pipeline as local worker processes, until Ctrl-C.

The sanitizer, the detector, the router, one archiver per region, a local signed-webhook
receiver the router delivers to (routing file ``deploy/demo/routing.yaml``), and with
``--demo-producer`` generated traffic with incidents. Ctrl-C (or SIGTERM) stops them in order
and leaves the local stack up.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.safe import clean
from pipeline.runall.session import (
    DEFAULT_ROUTING,
    STOP_SIGNALS,
    RunAll,
    RunAllOptions,
    interrupt,
)
from pipeline.settings import Settings, load_settings
from pipeline.stack import manager

console = Console(highlight=False)


def ensure_stack(settings: Settings, no_stack: bool) -> None:
    """Start the local stack unless told not to or the settings name other services."""
    if no_stack or settings.uses_external_services:
        return
    with console.status("starting the local stack…") as st:

        def report(msg: str) -> None:
            st.update(msg)
            console.log(msg)

        manager.up(settings.stack, report)


def run_all(
    routing: Path = typer.Option(
        DEFAULT_ROUTING, "--routing", help="routing file; its loopback webhooks get the receiver"
    ),
    demo_producer: bool = typer.Option(
        False, "--demo-producer", help="also run a producer of generated traffic with incidents"
    ),
    rate: float = typer.Option(50.0, "--rate", min=0, help="demo producer: events per second"),
    events: int = typer.Option(
        0, "--events", "-n", min=0, help="demo producer: stop after N events (0: never)"
    ),
    incident_every: float = typer.Option(
        60.0, "--incident-every", min=0, help="demo producer: seconds between incidents"
    ),
    no_stack: bool = typer.Option(
        False, "--no-stack", help="do not start the local stack (use AUDITPIPE_* endpoints)"
    ),
    health_port_base: int = typer.Option(
        0, "--health-port-base", min=0, max=65000, help="stages' /readyz ports from here (0: free)"
    ),
    deliveries: Path | None = typer.Option(
        None, "--deliveries", help="JSON Lines of verified deliveries (default: .stack/demo/)"
    ),
    ready_timeout: float = typer.Option(
        240.0, "--ready-timeout", min=1, help="seconds for every stage to become ready"
    ),
) -> None:
    """Run every stage as local workers (sanitizer, detector, router, archiver per region, a
    signed-webhook receiver) until Ctrl-C; then stop them in order and say how to look around."""
    settings = load_settings()
    ensure_stack(settings, no_stack)
    session = RunAll(
        settings,
        RunAllOptions(
            routing=routing,
            producer=demo_producer,
            rate=rate,
            events=events,
            incident_every=incident_every,
            health_port_base=health_port_base,
            ready_timeout_s=ready_timeout,
            deliveries=deliveries,
        ),
    )
    stop = threading.Event()
    for sig in STOP_SIGNALS:
        signal.signal(sig, interrupt)  # during start-up: stop what started, in order
    interrupted = False
    try:
        session.prepare()
        session.start(console.log)
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda *_: stop.set())
        _status(session)
        seen = len(session.deliveries())
        while not stop.wait(2.0):
            session.watch(console.log)
            now = len(session.deliveries())
            if now != seen:
                console.log(
                    f"webhook receiver: {now - seen} new verified deliveries ({now} in all)"
                )
                seen = now
    except KeyboardInterrupt:
        interrupted = True
    finally:
        console.log("stopping in order (the archivers write their open batches first)…")
        session.stop(console.log)
    if interrupted:
        console.print("interrupted during start-up; every stage started is stopped")
    _summary(session)


def _status(session: RunAll) -> None:
    table = Table(title="auditpipe run all: every stage ready")
    for col in ("stage", "pid", "ready/health", "log"):
        table.add_column(col)
    for row in session.status_rows():
        table.add_row(*row)
    console.print(table)
    console.print(
        f"The router delivers to the webhook receiver at {session.plan.receiver_url} "
        f"(routing: {session.plan.routing}); verified deliveries go to "
        f"{session.plan.deliveries}. Ctrl-C stops every stage in order; the stack stays up."
    )


def _summary(session: RunAll) -> None:
    got = [d for d in session.deliveries() if not d.duplicate]
    console.print(
        f"\n{len(got)} notifications delivered to the local receiver in all, every signature "
        f"verified ({session.plan.deliveries}). The local stack is still up "
        "(`auditpipe stack status`; `auditpipe stack down` stops it)."
    )
    console.print("\nLook around:")
    for what, cmd in session.look_around(session.recent_trace_id()):
        console.print(f"  # {what}\n  {clean(cmd)}")
