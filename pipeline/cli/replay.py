"""`auditpipe replay kafka|archive`: a time window of events, filtered, as JSON Lines.

Exit status: 0 when the window was replayed; 2 when the command cannot start (bad filter,
time, topic, keys); 4 (``replay archive``) when a batch in the window fails verification or
offsets in it are missing: each is named on stderr (``REFUSED <object key>: <problem>``) and
nothing of a failing batch is emitted, unless ``--allow-unverified`` emits it with every event
marked ``"_unverified": "<object key>"`` (exit 0 then, the batches named on stderr).

``--subject EMAIL|ID`` keeps one person's events: the identifier's keyed pseudonyms are
computed with the pseudonym keys of the settings (``AUDITPIPE_HMAC_KEY[_FILE]``), never
printed; in the output the subject's pseudonym reads ``ps:subject`` and anyone else's
``ps:redacted`` (see ``pipeline/replay/subject.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.archive.format.s3store import open_url
from pipeline.archive.format.store import Store
from pipeline.cli import safe
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
from pipeline.replay.parquet import ParquetSink
from pipeline.replay.subject import subject as subject_of
from pipeline.replay.to_topic import TopicSink, check_target, resume_points
from pipeline.replay.window import Window, window
from pipeline.sanitizer.build import scrub_keys
from pipeline.settings import Settings, load_settings

app = typer.Typer(help="Replay a window of events from Kafka or the verified archive.")
console = Console(stderr=True)

EXIT_UNUSABLE = safe.EXIT_UNUSABLE
#: a batch failed verification: a check failed, as for `verify` (4 means an internal error)
EXIT_REFUSED = safe.EXIT_FAILED

FromOption: Any = typer.Option(..., "--from", help="start: RFC 3339, 'now' or relative ('-2h')")
FilterOption: Any = typer.Option(
    None,
    "--filter",
    help="EXPR on any field path (category=AUTHN, http.status>=400, "
    "'category IN (AUTHN,AUTHZ) OR outcome!=SUCCESS'); repeat to AND",
)
OutOption: Any = typer.Option(None, "--out", help="write here (default: stdout)")
FormatOption: Any = typer.Option(
    "jsonl", "--format", help="jsonl, or parquet (nested schema kept; needs --out)"
)
ReasonOption: Any = typer.Option("", "--reason", help="why you read (recorded in the audit event)")
ToTopicOption: Any = typer.Option(
    None,
    "--to-topic",
    help="copy the matching records (key, value, headers) into this topic; run again to "
    "resume an interrupted copy without duplicates",
)
ForceOption: Any = typer.Option(
    False, "--force-input-topic", help="allow --to-topic to be a pipeline input topic"
)
SubjectOption: Any = typer.Option(
    None,
    "--subject",
    help="only this person's events (email or id; matched by its keyed pseudonym, never shown)",
)


def _sink(out: Path | None, fmt: str) -> Sink:
    if fmt == "parquet":
        if out is None:
            raise _unusable(ConfigError("--format parquet needs --out FILE"))
        return ParquetSink(out)
    if fmt != "jsonl":
        raise _unusable(ConfigError(f"--format {fmt!r}: jsonl or parquet"))
    if out is None:
        return JsonlSink(sys.stdout.buffer)
    return JsonlSink(out.open("wb"), close_stream=True)


def _output(
    settings: Settings,
    source: str,
    out: Path | None,
    fmt: str,
    subject: str | None,
    to_topic: str | None,
    force: bool,
) -> tuple[Sink, dict[int, int]]:
    """The sink of a replay, and where a resumed copy continues (see ``replay/to_topic.py``)."""
    if to_topic is None:
        return _sink(out, fmt), {}
    if out is not None or subject is not None:
        raise _unusable(ConfigError("--to-topic copies records: not with --out or --subject"))
    try:
        check_target(settings, source, to_topic, force=force)
        resume = resume_points(settings, source, to_topic)
        return TopicSink(settings, to_topic), resume
    except ConfigError as exc:
        raise _unusable(exc) from None


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


def _unusable(exc: ConfigError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}", highlight=False)
    return typer.Exit(EXIT_UNUSABLE)


def start(
    from_: str, to: str | None, filters: list[str] | None, subject: str | None = None
) -> tuple[Settings, Window, Filter]:
    """Settings, window and filter of a read command (a subject narrows the filter)."""
    try:
        settings = load_settings()
        win = window(from_, to)
        flt = compile_filters(filters or [])
        if subject is not None:
            subj = subject_of(scrub_keys(settings), subject)
            flt = flt.narrowed(subj.matches, subj.needles, subj.redact)
        return settings, win, flt
    except ConfigError as exc:
        raise _unusable(exc) from None


def open_stores(
    settings: Settings,
    source: str,
    endpoint_url: str | None,
    region: str | None,
    compare: str | None,
    compare_endpoint_url: str | None,
    compare_region: str | None,
) -> tuple[Store, Store | None]:
    try:
        store = open_url(source, settings, endpoint_url=endpoint_url, region=region)
        other = (
            open_url(compare, settings, endpoint_url=compare_endpoint_url, region=compare_region)
            if compare is not None
            else None
        )
    except ConfigError as exc:
        raise _unusable(exc) from None
    return store, other


def report_archive(stats: Stats) -> bool:
    """Name refused and unverified batches on stderr; True if any was refused."""
    for text in stats.refused:
        console.print(f"[red]REFUSED[/] {text}", highlight=False, soft_wrap=True)
    for text in stats.unverified:
        console.print(
            f"[yellow]UNVERIFIED, emitted marked:[/] {text}", highlight=False, soft_wrap=True
        )
    return bool(stats.refused)


@app.command("kafka")
def kafka(
    topic: str = typer.Option(..., "--topic", "-t", help="topic to replay"),
    from_: str = FromOption,
    to: str | None = typer.Option(
        None, "--to", help="end (exclusive); default: the end offsets taken at start"
    ),
    filters: list[str] | None = FilterOption,
    subject: str | None = SubjectOption,
    out: Path | None = OutOption,
    fmt: str = FormatOption,
    skew_s: float = typer.Option(
        DEFAULT_SKEW.total_seconds(),
        "--skew",
        min=0,
        help="seconds a record's Kafka timestamp may differ from the event's ts",
    ),
    to_topic: str | None = ToTopicOption,
    force_input_topic: bool = ForceOption,
    reason: str = ReasonOption,
) -> None:
    """Replay the events of a topic whose ts falls in [--from, --to), seeking by time."""
    settings, win, flt = start(from_, to, filters, subject)
    sink, resume = _output(settings, topic, out, fmt, subject, to_topic, force_input_topic)
    if resume:
        console.print(f"resuming the copy into {to_topic} ({len(resume)} partitions begun)")
    audit_read(
        settings,
        ReadAudit("replay kafka", topic, str(win), tuple(flt.fields), reason, subject is not None),
    )
    with progress_bar(f"replaying {topic}") as update:
        stats = replay_kafka(
            settings,
            topic,
            win,
            flt,
            sink,
            skew=timedelta(seconds=skew_s),
            progress=update,
            resume=resume,
        )
    console.print(stats.summary(), highlight=False)
    if to_topic is not None:
        console.print(f"copied {stats.matched:,} records into {to_topic}", highlight=False)


@app.command("archive")
def archive(
    source: str = typer.Option(..., "--source", help="archive: s3://BUCKET/PREFIX or file:///DIR"),
    from_: str = FromOption,
    to: str = typer.Option(..., "--to", help="end (exclusive)"),
    topic: str | None = typer.Option(
        None, "--topic", "-t", help="archived topic (default: the events topic)"
    ),
    filters: list[str] | None = FilterOption,
    subject: str | None = SubjectOption,
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
        None, "--compare", help="the other region's archive: read a failing batch's offsets there"
    ),
    compare_endpoint_url: str | None = typer.Option(None, "--compare-endpoint-url"),
    compare_region: str | None = typer.Option(None, "--compare-region"),
    to_topic: str | None = ToTopicOption,
    force_input_topic: bool = ForceOption,
    reason: str = ReasonOption,
) -> None:
    """Replay archived events whose ts falls in [--from, --to), verifying every batch first.

    Only batches whose time range overlaps the window are fetched. A batch that fails
    verification is named on stderr and not emitted; the exit status is then 4."""
    settings, win, flt = start(from_, to, filters, subject)
    ring = _keyring(public_key, keyring)
    store, other = open_stores(
        settings, source, endpoint_url, region, compare, compare_endpoint_url, compare_region
    )
    name = topic or settings.topics.events
    sink, resume = _output(settings, name, out, fmt, subject, to_topic, force_input_topic)
    if resume:
        console.print(f"resuming the copy into {to_topic} ({len(resume)} partitions begun)")
    audit_read(
        settings,
        ReadAudit(
            "replay archive", source, str(win), tuple(flt.fields), reason, subject is not None
        ),
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
            resume=resume,
        )
    refused = report_archive(stats)
    console.print(stats.summary(), highlight=False)
    if refused:
        raise typer.Exit(EXIT_REFUSED)
