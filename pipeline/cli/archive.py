"""`auditpipe keys`, `archive import`, `verify`, `prove`, `verify-proof`: the offline archive.

``verify`` prints one line per problem and a summary, and exits 0 only when everything holds
(1 when a problem was found, 2 when it cannot run: a missing archive, bad options or keys).
Archives are addressed as ``file:///DIR`` or ``s3://BUCKET/PREFIX``; the readers never create
them. Everything printed that came from an archive or a proof goes through ``safe.clean``.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from pipeline.archive.format import keys as keys_mod
from pipeline.archive.format.keys import Keyring, load_private_key
from pipeline.archive.format.s3store import open_url
from pipeline.archive.lifecycle.retention import load_retention
from pipeline.archive.verify.compare import Side
from pipeline.archive.verify.compare import compare as compare_archives
from pipeline.archive.verify.proof import prove as prove_event
from pipeline.archive.verify.proof import verify_proof as check_proof
from pipeline.archive.verify.verify import verify as verify_archive
from pipeline.archive.write.importer import import_jsonl
from pipeline.cli.safe import EXIT_FAILED, EXIT_UNUSABLE, clean
from pipeline.errors import ConfigError, PipelineError
from pipeline.events.jsonform import format_ts, parse_ts
from pipeline.replay.audit import ReadAudit, audit_read
from pipeline.scrub.keys import parse_keys
from pipeline.settings import Settings, load_settings

keys_app = typer.Typer(help="Ed25519 archive signing keys.", no_args_is_help=True)
archive_app = typer.Typer(help="The signed event archive (offline tools).", no_args_is_help=True)
console = Console(stderr=True)

PublicKeyOption = typer.Option(None, "--public-key", help="public key PEM file")
EndpointOption = typer.Option(None, "--endpoint-url", help="S3 endpoint (s3:// sources)")
RegionOption = typer.Option(None, "--region", help="S3 region (s3:// sources)")
KeyringOption = typer.Option(None, "--keyring", help="directory of public keys (*pub*.pem)")
ReasonOption = typer.Option("", "--reason", help="why you read (recorded in the audit event)")


def _audit(settings: Settings, read: ReadAudit, *urls: str | None) -> None:
    """The read's audit event (``pipeline.replay.audit``); an S3 read also names its access key
    id, the store's principal."""
    if any(u is not None and u.startswith("s3://") for u in urls):
        read.extra["s3_principal"] = settings.s3_credentials[0]
    audit_read(settings, read)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _updater(bar: Progress, task: TaskID) -> Callable[[int, int], None]:
    return lambda done, total: bar.update(task, completed=done, total=total)


def _keyring(public_key: Path | None, keyring: Path | None) -> Keyring:
    if (public_key is None) == (keyring is None):
        raise typer.BadParameter("give exactly one of --public-key and --keyring")
    if public_key is not None:
        return Keyring.from_file(public_key)
    assert keyring is not None
    return Keyring.from_dir(keyring)


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_ts(value, name)
    except PipelineError:
        raise typer.BadParameter(
            "not an RFC 3339 time with a UTC offset", param_hint=name
        ) from None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _max_age(value: str | None) -> timedelta | None:
    """``--max-age``: ``auto`` (None), ``off`` (no limit) or a duration like 90s, 15m, 2h, 1d."""
    if value is None or value == "auto":
        return None
    if value == "off":
        return timedelta.max
    number, unit = value[:-1], value[-1:]
    if unit not in _UNITS or not (number.isascii() and number.isdigit()) or int(number) == 0:
        raise typer.BadParameter(
            "give auto, off, or a duration such as 90s, 15m, 2h, 1d", param_hint="--max-age"
        )
    return timedelta(seconds=int(number) * _UNITS[unit])


@keys_app.command("generate")
def generate(
    out: Path = typer.Option(..., "--out", help="directory for <id>.key.pem and <id>.pub.pem"),
) -> None:
    """Generate an Ed25519 key pair (the private key file is mode 0600)."""
    private, public = keys_mod.generate(out)
    typer.echo(f"private key: {private}")
    typer.echo(f"public key:  {public}")


@keys_app.command("generate-hmac")
def generate_hmac(
    out: Path | None = typer.Option(
        None, "--out", help="write a scrub key file here (mode 0600); default: print the key"
    ),
    version: str = typer.Option("k1", "--version", help="the key's version name"),
) -> None:
    """Generate a pseudonym (HMAC) key: 32 random bytes, as a key file or for AUDITPIPE_HMAC_KEY."""
    key = secrets.token_bytes(32)
    text = f"# auditpipe scrub keys (pipeline/scrub/keys.py)\nactive = {version}\n"
    text += f"{version} = hex:{key.hex()}\n"
    parse_keys(text, "<generated>")  # the version name is valid and the key passes the checks
    if out is None:
        typer.echo(key.hex())
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{out} exists; not overwriting a key") from None
    except OSError as exc:
        raise ConfigError(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    typer.echo(f"scrub key file: {out} (pass it as --keys or AUDITPIPE_HMAC_KEY_FILE)")


@archive_app.command("import")
def import_(
    input_path: Path = typer.Option(
        ..., "--input", exists=True, dir_okay=False, help="JSON Lines file of events"
    ),
    dest: str = typer.Option(..., "--dest", help="archive, file:///DIR"),
    signing_key: Path = typer.Option(..., "--signing-key", help="Ed25519 private key PEM"),
    batch_size: int = typer.Option(10_000, "--batch-size", min=1, help="events per batch"),
    checkpoint_every: int = typer.Option(10, "--checkpoint-every", min=1, help="batches"),
    retention_file: Path | None = typer.Option(
        None, "--retention", help="retention classes (default: rules/retention.yaml)"
    ),
) -> None:
    """Import events (JSON form) as topic `import`, partition 0, offsets continuing the archive.

    Each batch is locked (S3 COMPLIANCE) for the longest retention class of its events."""
    settings = load_settings()
    retention = load_retention(retention_file or settings.rules_dir / "retention.yaml")
    store = open_url(dest, settings)
    signer = load_private_key(signing_key)
    size = input_path.stat().st_size
    with _progress() as bar:
        task = bar.add_task("importing", total=None)
        result = import_jsonl(
            input_path,
            store,
            signer,
            batch_size=batch_size,
            checkpoint_every=checkpoint_every,
            progress=lambda n: bar.advance(task, n),
            retention=retention,
        )
    typer.echo(
        f"imported {result.events:,} events ({size:,} bytes of JSON) as offsets "
        f"{result.first_offset}..{result.last_offset} in {result.batches} batches, "
        f"{result.checkpoints} checkpoints, signed by key {signer.key_id}; skipped "
        f"{result.duplicates:,} duplicates (event_id already archived or earlier in the file)"
    )


def verify(
    source: str = typer.Option(..., "--source", help="archive: s3://BUCKET/PREFIX or file:///DIR"),
    endpoint_url: str | None = EndpointOption,
    region: str | None = RegionOption,
    public_key: Path | None = PublicKeyOption,
    keyring: Path | None = KeyringOption,
    from_: str | None = typer.Option(None, "--from", help="RFC 3339 start of the time range"),
    to: str | None = typer.Option(None, "--to", help="RFC 3339 end of the time range"),
    deep: bool = typer.Option(False, "--deep", help="also decode every event (slow)"),
    jobs: int = typer.Option(
        0, "--jobs", min=0, help="processes for batch checks (0: one per CPU)"
    ),
    compare: str | None = typer.Option(
        None,
        "--compare",
        help="a second archive (the other region): verify it too, check both hold the same "
        "events per partition and offset, and resolve their checkpoints' cross-witnesses",
    ),
    compare_endpoint_url: str | None = typer.Option(
        None, "--compare-endpoint-url", help="S3 endpoint of the --compare archive"
    ),
    compare_region: str | None = typer.Option(
        None, "--compare-region", help="S3 region of the --compare archive"
    ),
    max_age: str | None = typer.Option(
        None,
        "--max-age",
        help="fail if a topic's latest checkpoint is older (90s, 15m, 2h, 1d; 'off'). Default "
        "'auto': 5 heartbeats of a streaming archive, at least 10 minutes; none for imports",
    ),
    reason: str = ReasonOption,
) -> None:
    """Check signatures, hashes, Merkle roots, chains, offset coverage, checkpoints, freshness.

    Exit 0: everything holds; 1: problems found; 2: cannot run (missing archive, bad option)."""
    start, end = _time(from_, "--from"), _time(to, "--to")
    if start is not None and end is not None and start > end:
        raise typer.BadParameter("--from is after --to", param_hint="--from")
    age = _max_age(max_age)
    ring = _keyring(public_key, keyring)
    settings = load_settings()
    if any(url is not None and url.startswith("s3://") for url in (source, compare)):
        # the regions' endpoints name the region of a bucket even with --endpoint-url
        settings.require("s3_endpoints", "s3_credentials", what="auditpipe verify")
    span = f"[{format_ts(start) if start else 'start'}, {format_ts(end) if end else 'end'})"
    _audit(
        settings,
        ReadAudit(
            "verify --deep" if deep else "verify",
            source if compare is None else f"{source} {compare}",
            span,
            reason=reason,
        ),
        source,
        compare,
    )
    sources = [
        (
            source,
            open_url(source, settings, endpoint_url=endpoint_url, region=region, create=False),
        )
    ]
    if compare is not None:
        sources.append(
            (
                compare,
                open_url(
                    compare,
                    settings,
                    endpoint_url=compare_endpoint_url,
                    region=compare_region,
                    create=False,
                ),
            )
        )
    failed = False
    for url, store in sources:
        with _progress() as bar:
            task = bar.add_task(f"verifying {url}", total=None)
            report = verify_archive(
                store,
                ring,
                start=start,
                end=end,
                deep=deep,
                jobs=jobs or os.cpu_count() or 1,
                progress=_updater(bar, task),
                max_age=age,
            )
        label = f"{clean(url)}: " if compare is not None else ""
        for problem in report.problems:
            typer.echo(f"{label}{clean(problem)}")
        verdict = "OK" if report.ok else f"FAILED: {len(report.problems)} problems"
        typer.echo(f"{label}{verdict}; {clean(report.summary)}")
        failed = failed or not report.ok
    if compare is not None:
        result = compare_archives(Side(source, sources[0][1]), Side(compare, sources[1][1]))
        for problem in result.problems:
            typer.echo(clean(problem))
        verdict = "same events" if result.ok else f"FAILED: {len(result.problems)} differences"
        typer.echo(
            f"compare: {verdict}; {result.partitions} partitions, "
            f"{result.witnesses} cross-witnesses resolved"
        )
        failed = failed or not result.ok
    if failed:
        raise typer.Exit(EXIT_FAILED)


def prove(
    event_id: str = typer.Argument(..., help="the event's event_id"),
    source: str = typer.Option(..., "--source", help="archive: s3://BUCKET/PREFIX or file:///DIR"),
    endpoint_url: str | None = EndpointOption,
    region: str | None = RegionOption,
    topic: str | None = typer.Option(None, "--topic", help="search only this topic"),
    out: Path | None = typer.Option(None, "--out", help="write the proof here (default stdout)"),
    reason: str = ReasonOption,
) -> None:
    """Print a JSON inclusion proof of one event (exit 1 if it is not archived)."""
    settings = load_settings()
    store = open_url(source, settings, endpoint_url=endpoint_url, region=region, create=False)
    window = f"the batch holding event {clean(event_id, 100)}" + (f" in {topic}" if topic else "")
    _audit(settings, ReadAudit("prove", source, window, reason=reason), source)
    proof = prove_event(store, event_id, topic)
    if proof is None:
        console.print(
            f"event {clean(event_id, 200)} is not in the archive", markup=False, highlight=False
        )
        raise typer.Exit(EXIT_FAILED)
    data = orjson.dumps(proof, option=orjson.OPT_INDENT_2) + b"\n"
    if out is None:
        sys.stdout.write(data.decode())
    else:
        out.write_bytes(data)


def verify_proof(
    proof_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="proof JSON"),
    public_key: Path | None = PublicKeyOption,
    keyring: Path | None = KeyringOption,
) -> None:
    """Check an inclusion proof offline; exit 0 only if it holds (1: it does not; 2: unusable).

    Every field of the OK line is bound to the signed manifest or the leaf."""
    ring = _keyring(public_key, keyring)
    try:
        proof: Any = orjson.loads(proof_file.read_bytes())
    except orjson.JSONDecodeError:
        console.print("error: the proof is not JSON (UTF-8)", markup=False, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None
    problems = check_proof(proof, ring) if isinstance(proof, dict) else ["not a JSON object"]
    for p in problems:
        typer.echo(f"problem: {clean(p)}")
    if problems:
        typer.echo("FAILED")
        raise typer.Exit(EXIT_FAILED)
    typer.echo(
        clean(
            f"OK: event {proof['event_id']} is {proof['topic']}/{proof['partition']} offset "
            f"{proof['offset']} of the signed batch {proof['object_key']}"
        )
    )
