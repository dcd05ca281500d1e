"""`auditpipe replay kafka|archive`: a time window of events, filtered, as JSON Lines.

Exit status: 0 when the window was replayed; 2 when the command cannot start (bad filter,
time, topic, keys); 4 when the archive holds a batch in the window that fails verification
(named on stderr; nothing of it is emitted unless ``--allow-unverified``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.errors import ConfigError
from pipeline.replay.audit import ReadAudit, audit_read
from pipeline.replay.filters import Filter, compile_filters
from pipeline.replay.kafka_source import DEFAULT_SKEW, replay_kafka
from pipeline.replay.output import JsonlSink, Sink, Stats
from pipeline.replay.output import Progress as ProgressFn
from pipeline.replay.window import Window, window
from pipeline.settings import Settings, load_settings

app = typer.Typer(help="Replay a window of events from Kafka or the verified archive.")
console = Console(stderr=True)

EXIT_UNUSABLE = 2
EXIT_REFUSED = 4

FromOption = typer.Option(..., "--from", help="start: RFC 3339, 'now' or relative ('-2h')")
FilterOption = typer.Option(
    None,
    "--filter",
    help="EXPR on any field path (category=AUTHN, http.status>=400, "
    "'category IN (AUTHN,AUTHZ) OR outcome!=SUCCESS'); repeat to AND",
)
OutOption = typer.Option(None, "--out", help="write here (default: stdout)")
FormatOption = typer.Option("jsonl", "--format", help="jsonl")
ReasonOption = typer.Option("", "--reason", help="why you read (recorded in the audit event)")


def _sink(out: Path | None, fmt: str) -> Sink:
    if fmt != "jsonl":
        raise ConfigError(f"--format {fmt!r}: only jsonl is supported")
    if out is None:
        return JsonlSink(sys.stdout.buffer)
    return JsonlSink(out.open("wb"), close_stream=True)


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressFn]:
    """A progress bar on stderr (events/s, matched/scanned, ETA), gone when the block ends."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, counts="", rate="")

        def update(stats: Stats) -> None:
            bar.update(
                task,
                completed=stats.scanned,
                total=stats.total,
                counts=f"matched {stats.matched:,}/{stats.scanned:,}",
                rate=f"{stats.rate:,.0f} ev/s",
            )

        yield update


def _start(
    from_: str, to: str | None, filters: list[str] | None
) -> tuple[Settings, Window, Filter]:
    try:
        return load_settings(), window(from_, to), compile_filters(filters or [])
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None


@app.command("kafka")
def kafka(
    topic: str = typer.Option(..., "--topic", "-t", help="topic to replay"),
    from_: str = FromOption,
    to: str | None = typer.Option(
        None, "--to", help="end (exclusive); default: the end offsets taken at start"
    ),
    filters: list[str] | None = FilterOption,
    out: Path | None = OutOption,
    fmt: str = FormatOption,
    skew_s: float = typer.Option(
        DEFAULT_SKEW.total_seconds(),
        "--skew",
        min=0,
        help="seconds a record's Kafka timestamp may differ from the event's ts",
    ),
    reason: str = ReasonOption,
) -> None:
    """Replay the events of a topic whose ts falls in [--from, --to), seeking by time."""
    settings, win, flt = _start(from_, to, filters)
    sink = _sink(out, fmt)
    audit_read(
        settings,
        ReadAudit("replay kafka", topic, str(win), tuple(flt.fields), reason),
    )
    with progress_bar(f"replaying {topic}") as update:
        stats = replay_kafka(
            settings, topic, win, flt, sink, skew=timedelta(seconds=skew_s), progress=update
        )
    console.print(stats.summary(), highlight=False)
