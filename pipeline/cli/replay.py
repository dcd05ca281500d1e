"""`auditpipe replay kafka|archive`: a time window of events, filtered, as JSON Lines.

Exit status: 0 when the window was replayed; 2 when the command cannot start (bad filter,
time, topic, keys); 4 (``replay archive``) when a batch in the window fails verification or
offsets in it are missing: each is named on stderr (``REFUSED <object key>: <problem>``) and
nothing of a failing batch is emitted, unless ``--allow-unverified`` emits it with every event
marked ``"_unverified": "<object key>"`` (exit 0 then, the batches named on stderr).
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

from pipeline.archive.format.s3store import open_url
from pipeline.cli.archive import (
    EndpointOption,
    KeyringOption,
    PublicKeyOption,
    RegionOption,
    _keyring,
)
from pipeline.errors import ConfigError
from pipeline.replay.archive_source import replay_archive
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


@app.command("archive")
def archive(
    source: str = typer.Option(..., "--source", help="archive: s3://BUCKET/PREFIX or file:///DIR"),
    from_: str = FromOption,
    to: str = typer.Option(..., "--to", help="end (exclusive)"),
    topic: str | None = typer.Option(
        None, "--topic", "-t", help="archived topic (default: the events topic)"
    ),
    filters: list[str] | None = FilterOption,
    out: Path | None = OutOption,
    fmt: str = FormatOption,
    public_key: Path | None = PublicKeyOption,
    keyring: Path | None = KeyringOption,
    endpoint_url: str | None = EndpointOption,
    region: str | None = RegionOption,
    allow_unverified: bool = typer.Option(
        False,
        "--allow-unverified",
        help='emit a batch that fails verification, each event marked "_unverified"',
    ),
    compare: str | None = typer.Option(
        None, "--compare", help="the other region's archive: read a failing or missing batch there"
    ),
    compare_endpoint_url: str | None = typer.Option(None, "--compare-endpoint-url"),
    compare_region: str | None = typer.Option(None, "--compare-region"),
    reason: str = ReasonOption,
) -> None:
    """Replay archived events whose ts falls in [--from, --to), verifying every batch first.

    Only batches whose time range overlaps the window are fetched. A batch that fails
    verification is named on stderr and not emitted; the exit status is then 4."""
    settings, win, flt = _start(from_, to, filters)
    ring = _keyring(public_key, keyring)
    try:
        store = open_url(source, settings, endpoint_url=endpoint_url, region=region)
        other = (
            open_url(compare, settings, endpoint_url=compare_endpoint_url, region=compare_region)
            if compare is not None
            else None
        )
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None
    name = topic or settings.topics.events
    sink = _sink(out, fmt)
    audit_read(
        settings,
        ReadAudit("replay archive", source, str(win), tuple(flt.fields), reason),
    )
    with progress_bar(f"replaying {name} from {source}") as update:
        stats = replay_archive(
            store,
            ring,
            name,
            win,
            flt,
            sink,
            allow_unverified=allow_unverified,
            fallback=other,
            progress=update,
        )
    for text in stats.refused:
        console.print(f"[red]REFUSED[/] {text}", highlight=False, markup=True, soft_wrap=True)
    for text in stats.unverified:
        console.print(f"[yellow]UNVERIFIED, emitted marked:[/] {text}", soft_wrap=True)
    console.print(stats.summary(), highlight=False)
    if stats.refused:
        raise typer.Exit(EXIT_REFUSED)
