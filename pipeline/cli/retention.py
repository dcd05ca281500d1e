"""`auditpipe retention show|apply|purge`: retention classes and the purge of expired objects.

``purge`` works in every region (see ``pipeline.archive.lifecycle.purge``): it records the
policy if it changed, plans per region, then — unless ``--dry-run`` — writes a signed purge
record, deletes every version of the expired, unheld objects, checks they are gone and emits one
LIFECYCLE audit event per region. Exit 0 only when every region succeeded.
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.table import Table

from pipeline.archive.format.keys import Signer
from pipeline.archive.lifecycle import extend, policylog, regions
from pipeline.archive.lifecycle import purge as purging
from pipeline.archive.lifecycle.audit import lifecycle_audit, operator
from pipeline.archive.lifecycle.regions import AuditSink
from pipeline.archive.lifecycle.retention import Retention
from pipeline.cli import lifecycle_opts as opts
from pipeline.errors import PipelineError
from pipeline.settings import load_settings

app = typer.Typer(
    help="Retention classes of the archive, and the purge of expired objects.",
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
    if failed:
        raise typer.Exit(1)
