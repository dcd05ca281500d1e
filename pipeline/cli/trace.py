"""`auditpipe trace TRACE_ID | --request-id ID`: one flow across services as a timeline.

Prints a table (time, +ms since the first event, gap since the previous one, service,
category, action, outcome) with the services named and long gaps marked; ``--json`` prints
JSON Lines instead (one hop per line: ``since_start_ms``, ``gap_ms``, ``gap``, ``event``).
Exit status: 0 when events were found, 1 when none was, 2 when the command cannot start, 4 when
an archive batch in the window fails verification (see ``replay archive``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.archive import (
    EndpointOption,
    KeyringOption,
    PublicKeyOption,
    RegionOption,
    _keyring,
)
from pipeline.cli.replay import (
    EXIT_REFUSED,
    ReasonOption,
    open_stores,
    progress_bar,
    report_archive,
    start,
)
from pipeline.replay.archive_source import replay_archive
from pipeline.replay.audit import ReadAudit, audit_read
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import ListSink
from pipeline.replay.trace import DEFAULT_GAP_MS, narrow, services, timeline

console = Console(stderr=True)


def trace(
    trace_id: str | None = typer.Argument(None, help="the flow's trace_id"),
    request_id: str | None = typer.Option(None, "--request-id", help="or its request_id"),
    source: str = typer.Option(
        "kafka", "--source", help="kafka, or an archive URL (s3://, file://)"
    ),
    topic: str | None = typer.Option(None, "--topic", "-t", help="default: the events topic"),
    from_: str = typer.Option("-24h", "--from", help="start of the search window"),
    to: str | None = typer.Option(None, "--to", help="end (default: now / the end offsets)"),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines instead of a table"),
    gap_ms: float = typer.Option(DEFAULT_GAP_MS, "--gap-ms", help="mark waits longer than this"),
    public_key: Path | None = PublicKeyOption,
    keyring: Path | None = KeyringOption,
    endpoint_url: str | None = EndpointOption,
    region: str | None = RegionOption,
    reason: str = ReasonOption,
) -> None:
    """Rebuild one request's flow across services, in time order."""
    if (trace_id is None) == (request_id is None):
        raise typer.BadParameter("give a TRACE_ID or --request-id (one of them)")
    from_kafka = source == "kafka"
    settings, win, base = start(from_, to if to is not None or from_kafka else "now", [])
    flt = narrow(base, trace_id, request_id)
    name = topic or settings.topics.events
    field = "trace_id" if trace_id is not None else "request_id"
    audit_read(
        settings, ReadAudit("trace", name if from_kafka else source, str(win), (field,), reason)
    )
    sink = ListSink()
    refused = False
    with progress_bar("tracing") as update:
        if from_kafka:
            replay_kafka(settings, name, win, flt, sink, progress=update)
        else:
            store, _ = open_stores(settings, source, endpoint_url, region, None, None, None)
            stats = replay_archive(
                store, _keyring(public_key, keyring), name, win, flt, sink, progress=update
            )
            refused = report_archive(stats)
    hops = timeline(sink.events, gap_ms)
    if as_json:
        out = sys.stdout.buffer
        for hop in hops:
            out.write(orjson.dumps(hop.to_json()) + b"\n")
        out.flush()
    elif hops:
        table = Table(
            title=f"{len(hops)} events across {len(services(hops))} services: "
            + " -> ".join(services(hops))
        )
        for col in ("time (UTC)", "+ms", "gap ms", "service", "category", "action", "outcome"):
            table.add_column(col, justify="right" if "ms" in col else "left")
        for h in hops:
            gap = f"[bold yellow]{h.gap_ms:,.1f} GAP[/]" if h.is_gap else f"{h.gap_ms:,.1f}"
            table.add_row(
                h.at.strftime("%H:%M:%S.%f"),
                f"{h.since_start_ms:,.1f}",
                gap,
                h.service,
                h.category,
                h.action,
                h.outcome,
            )
        Console().print(table)
    if refused:
        raise typer.Exit(EXIT_REFUSED)
    if not hops:
        console.print(f"no events of that {field} in {win}")
        raise typer.Exit(1)
