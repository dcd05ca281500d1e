"""`auditpipe route`: review a routing change offline, before it ships.

Reads alerts (JSON Lines, JSON form of schemas/alert.avsc) and replays them through the router
with time simulated from the alerts' ``ts``: before each alert every flush due by then runs,
and after the last one time runs on until every group has flushed and resolved. Prints which
receivers would get what, as a table or (``--json``) one notification per line. Nothing is
delivered.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from pipeline.errors import ConfigError, InvalidEventError
from pipeline.events.jsonform import from_json
from pipeline.events.schemas import ALERT, parsed_schema
from pipeline.route.config import load_routing
from pipeline.route.engine import Router
from pipeline.route.grouping import Notification
from pipeline.route.simulate import simulate

DEFAULT_CONFIG = Path("rules/routing.yaml")


def read_alerts(path: Path | None) -> Iterator[dict[str, Any]]:
    """Validated alerts from a JSON Lines file or stdin (``-`` or None)."""
    schema = parsed_schema(ALERT)
    name = "-" if path is None else str(path)
    stream = sys.stdin.buffer if path is None or name == "-" else path.open("rb")
    with stream:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
                from_json(schema, doc)
            except orjson.JSONDecodeError as exc:
                raise InvalidEventError(f"{name}:{lineno}: not valid JSON: {exc}") from None
            except InvalidEventError as exc:
                raise InvalidEventError(f"{name}:{lineno}: {exc}") from None
            yield doc


def _table(notes: list[Notification]) -> Table:
    table = Table(title="Notifications (dry run)")
    for col in ("time", "receiver", "route", "status", "reason", "group", "alerts", "events"):
        table.add_column(col, overflow="fold")
    for n in notes:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items()))
        table.add_row(
            n.ts,
            n.receiver,
            n.route,
            n.status,
            n.reason,
            labels,
            str(n.alert_count),
            str(n.event_count),
        )
    return table


def route(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="routing file"),
    input_file: Path | None = typer.Option(
        None, "--input", "-i", help="JSON Lines alerts (default: stdin)"
    ),
    dry_run: bool = typer.Option(
        True, "--dry-run/--deliver", help="only dry runs are possible offline"
    ),
    json_out: bool = typer.Option(False, "--json", help="one notification per line (JSON)"),
) -> None:
    """Show which receivers would get what for a stream of alerts (simulated time)."""
    if not dry_run:
        raise ConfigError("offline routing only does dry runs; the router stage delivers")
    router = Router(load_routing(config))
    notes = simulate(router, read_alerts(input_file))
    if json_out:
        out = sys.stdout.buffer
        for note in notes:
            out.write(orjson.dumps(note.encode()) + b"\n")
        out.flush()
        return
    collected = list(notes)
    Console().print(_table(collected))
    Console(stderr=True).print(f"{len(collected)} notifications", highlight=False)
