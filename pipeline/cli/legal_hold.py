"""`auditpipe legal-hold set|clear --case ID (--prefix P | --from TS --to TS)`, in every region.

Applies (or lifts) S3 Object Lock legal hold on every version of the selected batches, manifests,
signatures and checkpoints, writes a signed marker naming the case in each region, and emits one
LIFECYCLE audit event per region (``archive.legal_hold.set`` / ``.clear``). ``clear`` leaves ON
whatever another case that is still set selects. Exit 0 only when every region succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.lifecycle.audit import lifecycle_audit, operator
from pipeline.archive.lifecycle.holds import (
    Action,
    HoldResult,
    Selector,
    apply_hold,
    case_status,
    check_case,
)
from pipeline.archive.lifecycle.regions import AuditSink, Region
from pipeline.archive.lifecycle.retention import Retention
from pipeline.cli import lifecycle_opts as opts
from pipeline.errors import PipelineError
from pipeline.events.jsonform import format_ts, parse_ts
from pipeline.settings import load_settings

app = typer.Typer(
    help="Legal holds on archive objects, per case, in every region.", no_args_is_help=True
)

CaseOption = typer.Option(..., "--case", help="case id (letters, digits, . _ -)")
PrefixOption = typer.Option(None, "--prefix", help="every object under this key prefix")
FromOption = typer.Option(None, "--from", help="RFC 3339 start of the events' time range")
ToOption = typer.Option(None, "--to", help="RFC 3339 end of the events' time range")


def _selector(prefix: str | None, from_: str | None, to: str | None) -> Selector:
    if (prefix is None) == (from_ is None or to is None) or (prefix and (from_ or to)):
        raise typer.BadParameter("give either --prefix, or both --from and --to")
    if prefix is not None:
        return Selector(prefix=prefix)
    assert from_ is not None
    assert to is not None
    return Selector(start=format_ts(parse_ts(from_, "--from")), end=format_ts(parse_ts(to, "--to")))


def _hold_region(
    reg: Region,
    action: Action,
    case: str,
    selector: Selector,
    signer: Signer,
    r: Retention,
    audit: AuditSink,
) -> HoldResult:
    now = opts.now()
    with opts.progress() as bar:
        task = bar.add_task(f"legal hold {action} {reg.name}", total=None)
        try:
            return apply_hold(
                reg,
                case,
                selector,
                action,
                signer,
                now,
                marker_retain_until=r.until(r.metadata_class, now),
                audit=audit,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except PipelineError as exc:  # one region down never stops the other
            return HoldResult(reg.name, case, action, failures=[str(exc)])


def _run(
    action: Action,
    case: str,
    selector: Selector,
    region: list[str] | None,
    bucket_prefix: str | None,
    archive_prefix: str,
    signing_key: Path | None,
    retention_file: Path | None,
    actor: str | None,
) -> None:
    settings = load_settings()
    check_case(case)
    signer = opts.signer(settings, signing_key)
    r = opts.retention(settings, retention_file)
    with lifecycle_audit(settings, actor or operator()) as audit:
        results = [
            _hold_region(reg, action, case, selector, signer, r, audit)
            for reg in opts.regions(settings, region, bucket_prefix, archive_prefix)
        ]
    table = Table("region", "case", "action", "objects", "versions", "kept (other cases)", "marker")
    for res in results:
        for failure in res.failures:
            typer.echo(f"{res.region}: FAILED: {failure}")
        table.add_row(
            res.region,
            res.case,
            res.action,
            str(res.objects),
            str(res.versions),
            str(res.kept_for_other_cases),
            res.marker_key or "FAILED",
        )
    opts.console.print(table)
    typer.echo(f"legal hold {action} for case {case} on {selector.describe()}")
    if not all(res.ok for res in results):
        raise typer.Exit(1)


def _command(action: Action, doc: str) -> Callable[..., None]:
    """The `set` and `clear` commands: the same options, a different action."""

    def command(
        case: str = CaseOption,
        prefix: str | None = PrefixOption,
        from_: str | None = FromOption,
        to: str | None = ToOption,
        region: list[str] | None = opts.RegionsOption,
        bucket_prefix: str | None = opts.BucketPrefixOption,
        archive_prefix: str = opts.ArchivePrefixOption,
        signing_key: Path | None = opts.SigningKeyOption,
        retention_file: Path | None = opts.RetentionOption,
        actor: str | None = opts.ActorOption,
    ) -> None:
        _run(
            action,
            case,
            _selector(prefix, from_, to),
            region,
            bucket_prefix,
            archive_prefix,
            signing_key,
            retention_file,
            actor,
        )

    command.__doc__ = doc
    return command


@app.command("list")
def list_(
    region: list[str] | None = opts.RegionsOption,
    bucket_prefix: str | None = opts.BucketPrefixOption,
    archive_prefix: str = opts.ArchivePrefixOption,
    public_key: Path | None = typer.Option(
        None, "--public-key", help="check the markers' signatures with this public key"
    ),
) -> None:
    """Every case's latest action per region (from the signed markers)."""
    settings = load_settings()
    ring = Keyring.from_file(public_key) if public_key else None
    table = Table("region", "case", "state", "selection", "since", "objects", "signature")
    for reg in opts.regions(settings, region, bucket_prefix, archive_prefix):
        for st in case_status(reg.store, ring):
            m = st.marker
            state = "held" if m.action == "set" else "cleared"
            table.add_row(
                reg.name,
                m.case,
                state,
                m.selector.describe(),
                m.created,
                str(m.objects),
                st.signature,
            )
    opts.console.print(table)


app.command("set")(
    _command("set", "Place a legal hold for CASE on every matching object, in every region.")
)
app.command("clear")(
    _command("clear", "Lift CASE's legal hold (objects another active case selects stay held).")
)
