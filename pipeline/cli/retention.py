"""`auditpipe retention show|apply|purge|verify-hot`: retention of the archive and of Kafka.

``purge`` works in every region (see ``pipeline.archive.lifecycle.purge``): it records the
policy if it changed, plans per region, then — unless ``--dry-run`` — writes a signed purge
record, deletes every version of the expired, unheld objects, checks they are gone and emits one
LIFECYCLE audit event per region; its report ends with the hot store's check (``verify-hot``:
nothing older than its retention left in Kafka). Exit 0 only when every region succeeded and the
hot store holds nothing past its bound.

``verify-hot`` reads, per topic of the topic table and partition, the earliest offset and the
timestamp of its record, against ``now - (retention + segment + the broker's retention check
interval)``: Kafka deletes whole segments, only at its checks (see ``pipeline.kafka.retention``).
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.archive.format.keys import Signer
from pipeline.archive.lifecycle import extend, policylog, regions
from pipeline.archive.lifecycle import purge as purging
from pipeline.archive.lifecycle.audit import lifecycle_audit, operator
from pipeline.archive.lifecycle.regions import AuditSink
from pipeline.archive.lifecycle.retention import Retention
from pipeline.cli import lifecycle_opts as opts
from pipeline.cli.safe import EXIT_FAILED, clean
from pipeline.cli.topics import TABLE_OPTION, table_of
from pipeline.errors import PipelineError
from pipeline.events.jsonform import format_ts
from pipeline.kafka import clients
from pipeline.kafka import retention as hot
from pipeline.settings import Settings, load_settings

app = typer.Typer(
    help="Retention classes of the archive, the purge of expired objects, and the check that "
    "Kafka keeps nothing past its retention.",
    no_args_is_help=True,
)


@app.command()
def show(retention_file: Path | None = opts.RetentionOption) -> None:
    """Print the retention classes and which categories use them."""
    r = opts.retention(load_settings(), retention_file)
    table = Table("class", "period", "categories", "description")
    for name, cls in r.policy.classes.items():
        cats = [s for s, c in zip(r.symbols, r.by_index, strict=True) if c == name]
        extra = " (default)" if name == r.policy.default else ""
        extra += " (checkpoints, records)" if name == r.metadata_class else ""
        table.add_row(name, str(cls.parsed), ", ".join(cats) + extra, cls.description)
    opts.console.print(table)


@app.command()
def apply(
    retention_file: Path | None = opts.RetentionOption,
    region: list[str] | None = opts.RegionsOption,
    bucket_prefix: str | None = opts.BucketPrefixOption,
    archive_prefix: str = opts.ArchivePrefixOption,
    signing_key: Path | None = opts.SigningKeyOption,
    actor: str | None = opts.ActorOption,
    extend_locks: bool = typer.Option(
        False,
        "--extend",
        help="also move every stored object's COMPLIANCE lock forward to its class's current "
        "period (after lengthening a class; reads every manifest)",
    ),
) -> None:
    """Record the current retention policy in every region (audited when it changed)."""
    settings = load_settings()
    r = opts.retention(settings, retention_file)
    signer = opts.signer(settings, signing_key)
    failed = False
    with lifecycle_audit(settings, actor or operator()) as audit:
        for reg in opts.regions(settings, region, bucket_prefix, archive_prefix):
            change = policylog.record(reg, r, signer, opts.now(), audit=audit)
            what = f"changed ({change.classes}): {change.key}" if change.changed else "unchanged"
            typer.echo(f"{reg.name}: retention policy {change.new_sha256[:16]} {what}")
            if extend_locks:
                failed = not _extend_region(reg, r, audit) or failed
    if failed:
        raise typer.Exit(1)


def _extend_region(reg: regions.Region, r: Retention, audit: AuditSink) -> bool:
    with opts.progress() as bar:
        task = bar.add_task(f"extending locks {reg.name}", total=None)
        advance = functools.partial(bar.advance, task)
        res = extend.extend_locks(reg, r, opts.now(), audit=audit, progress=advance)
    for failure in res.failures:
        typer.echo(f"{reg.name}: FAILED: {failure}")
    typer.echo(
        f"{reg.name}: {res.versions_extended} object versions locked longer "
        f"({res.documents} manifests and checkpoints)"
    )
    return res.ok


def _purge_region(
    reg: regions.Region,
    topics: list[str] | None,
    r: Retention,
    signer: Signer | None,
    audit: AuditSink | None,
    table: Table,
) -> bool:
    """Plan (and unless ``signer`` is None, carry out) the purge of one region; True if ok."""
    ok = True
    change = policylog.record(reg, r, signer, opts.now(), audit=audit, dry_run=signer is None)
    if change.changed:
        typer.echo(f"{reg.name}: retention policy changed: {change.classes}")
    for t in topics or regions.topics(reg.store):
        now = opts.now()
        plan = purging.plan_purge(reg, t, now, r)
        outcome = "dry run"
        if signer is not None:
            with opts.progress() as bar:
                task = bar.add_task(f"purging {reg.name} {t}", total=len(plan.keys))
                advance = functools.partial(bar.advance, task)
                res = purging.execute_purge(
                    reg,
                    plan,
                    signer,
                    now,
                    record_retain_until=r.until(r.metadata_class, now),
                    audit=audit,
                    progress=advance,
                )
            for failure in res.failures:
                typer.echo(f"{reg.name}: {failure}")
            ok = ok and res.ok
            outcome = "ok" if res.ok else "FAILED"
            if res.record_key:
                outcome += f": {res.versions_deleted} versions deleted, record {res.record_key}"
        table.add_row(
            reg.name,
            t,
            str(len(plan.manifests)),
            plan.ranges(),
            str(len(plan.checkpoints)),
            str(len(plan.keys)),
            str(len(plan.held)),
            outcome,
        )
    return ok


@app.command()
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="plan only: change nothing"),
    topic: list[str] | None = typer.Option(None, "--topic", help="only this topic (repeatable)"),
    retention_file: Path | None = opts.RetentionOption,
    region: list[str] | None = opts.RegionsOption,
    bucket_prefix: str | None = opts.BucketPrefixOption,
    archive_prefix: str = opts.ArchivePrefixOption,
    signing_key: Path | None = opts.SigningKeyOption,
    actor: str | None = opts.ActorOption,
    check_hot: bool = typer.Option(
        True, "--hot/--no-hot", help="end with verify-hot: nothing past its retention in Kafka"
    ),
    topic_table: Path | None = typer.Option(
        None, "--topic-table", help="the topic table of --hot (default: RULES_DIR/topics.yaml)"
    ),
) -> None:
    """Delete (every version of) expired objects without legal hold, in every region.

    Writes a signed purge record first (so `auditpipe verify` accepts the removal), then checks
    the objects are gone, and emits one LIFECYCLE audit event per region. A dry run prints the
    plan and changes nothing (and emits nothing).
    """
    settings = load_settings()
    r = opts.retention(settings, retention_file)
    signer = None if dry_run else opts.signer(settings, signing_key)
    failed = 0
    table = Table("region", "topic", "batches", "offsets", "checkpoints", "objects", "held", "")
    audit_ctx = nullcontext(None) if dry_run else lifecycle_audit(settings, actor or operator())
    with audit_ctx as audit:
        for reg in opts.regions(settings, region, bucket_prefix, archive_prefix):
            try:
                failed += not _purge_region(reg, topic, r, signer, audit, table)
            except PipelineError as exc:  # one region down never stops the other
                failed += 1
                typer.echo(f"{reg.name}: FAILED: {exc}")
                table.add_row(reg.name, "-", "-", "-", "-", "-", "-", "FAILED")
    opts.console.print(table)
    if check_hot:
        try:
            failed += not _verify_hot(settings, topic_table, None)
        except PipelineError as exc:
            failed += 1
            typer.echo(f"hot store: FAILED: {clean(exc)}")
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _ts(ms: int | None) -> str:
    if ms is None:
        return "-"
    try:
        return format_ts(datetime.fromtimestamp(ms / 1000, UTC))
    except (OverflowError, OSError, ValueError):  # a producer's timestamp out of range
        return f"{ms} ms"


def _verify_hot(settings: Settings, file: Path | None, only: list[str] | None) -> bool:
    """Print the hot store's check; True when nothing remains past its bound."""
    conn = clients.connection(settings, hot.GROUP)
    report = hot.verify_hot(conn, settings, table_of(settings, file), only=only)
    title = (
        "hot store: earliest record per partition against now - (retention + segment + "
        f"check interval {report.check_interval_ms} ms"
        + ("" if report.interval_known else ", Kafka's default: the broker's was not readable")
        + ")"
    )
    table = Table(
        "topic", "partition", "earliest", "end", "its timestamp", "cutoff", "", title=title
    )
    for c in report.checks:
        table.add_row(
            clean(c.topic),
            "-" if c.partition is None else str(c.partition),
            "-" if c.earliest is None else str(c.earliest),
            "-" if c.latest is None else str(c.latest),
            _ts(c.timestamp_ms),
            _ts(c.cutoff_ms),
            c.status if c.ok else c.status.upper(),
        )
    Console(width=max(120, Console().width)).print(table)  # stdout: the command's result
    if not report.checks:
        typer.echo("hot store: no topic of the table exists")
    bad = report.failed
    if bad:
        typer.echo(f"hot store: {len(bad)} partitions hold records past their retention bound")
    return not bad


@app.command(name="verify-hot")
def verify_hot(
    topic: list[str] | None = typer.Option(None, "--topic", help="only this topic (repeatable)"),
    file: Path | None = TABLE_OPTION,
) -> None:
    """Prove Kafka keeps nothing past its retention: exit 1 if a partition does.

    Per topic of the topic table and partition: the earliest offset and its record's timestamp
    against the cutoff now - (retention.ms + segment.ms + the broker's
    log.retention.check.interval.ms). Kafka deletes whole segments, once the newest record of a
    segment is past retention.ms and only when its retention check runs; a segment spans at most
    segment.ms: so that sum is how long a record may remain, and what is checked. Compacted
    topics have no time limit.
    """
    if not _verify_hot(load_settings(), file, topic or None):
        raise typer.Exit(EXIT_FAILED)
