"""`auditpipe keys`, `archive import`, `verify`, `prove`, `verify-proof`: the offline archive.

``verify`` prints one line per problem and a summary, and exits 0 only when everything holds
(1 when a problem was found). Archives are addressed as ``file:///DIR`` here; S3 regions come
with the streaming archiver.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
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
from pipeline.events.jsonform import parse_ts
from pipeline.settings import load_settings

keys_app = typer.Typer(help="Ed25519 archive signing keys.", no_args_is_help=True)
archive_app = typer.Typer(help="The signed event archive (offline tools).", no_args_is_help=True)
console = Console(stderr=True)

PublicKeyOption = typer.Option(None, "--public-key", help="public key PEM file")
EndpointOption = typer.Option(None, "--endpoint-url", help="S3 endpoint (s3:// sources)")
RegionOption = typer.Option(None, "--region", help="S3 region (s3:// sources)")
KeyringOption = typer.Option(None, "--keyring", help="directory of public keys (*pub*.pem)")


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
    return parse_ts(value, name) if value else None


@keys_app.command("generate")
def generate(
    out: Path = typer.Option(..., "--out", help="directory for <id>.key.pem and <id>.pub.pem"),
) -> None:
    """Generate an Ed25519 key pair (the private key file is mode 0600)."""
    private, public = keys_mod.generate(out)
    typer.echo(f"private key: {private}")
    typer.echo(f"public key:  {public}")


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
        f"{result.checkpoints} checkpoints, signed by key {signer.key_id}"
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
) -> None:
    """Check signatures, hashes, Merkle roots, chains, offset coverage and checkpoints."""
    ring = _keyring(public_key, keyring)
    settings = load_settings()
    if any(url is not None and url.startswith("s3://") for url in (source, compare)):
        # the regions' endpoints name the region of a bucket even with --endpoint-url
        settings.require("s3_endpoints", "s3_credentials", what="auditpipe verify")
    sources = [(source, open_url(source, settings, endpoint_url=endpoint_url, region=region))]
    if compare is not None:
        sources.append(
            (
                compare,
                open_url(
                    compare, settings, endpoint_url=compare_endpoint_url, region=compare_region
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
                start=_time(from_, "--from"),
                end=_time(to, "--to"),
                deep=deep,
                jobs=jobs or os.cpu_count() or 1,
                progress=_updater(bar, task),
            )
        label = f"{url}: " if compare is not None else ""
        for problem in report.problems:
            typer.echo(f"{label}{problem}")
        verdict = "OK" if report.ok else f"FAILED: {len(report.problems)} problems"
        typer.echo(f"{label}{verdict}; {report.summary}")
        failed = failed or not report.ok
    if compare is not None:
        result = compare_archives(Side(source, sources[0][1]), Side(compare, sources[1][1]))
        for problem in result.problems:
            typer.echo(str(problem))
        verdict = "same events" if result.ok else f"FAILED: {len(result.problems)} differences"
        typer.echo(
            f"compare: {verdict}; {result.partitions} partitions, "
            f"{result.witnesses} cross-witnesses resolved"
        )
        failed = failed or not result.ok
    if failed:
        raise typer.Exit(1)


def prove(
    event_id: str = typer.Argument(..., help="the event's event_id"),
    source: str = typer.Option(..., "--source", help="archive: s3://BUCKET/PREFIX or file:///DIR"),
    endpoint_url: str | None = EndpointOption,
    region: str | None = RegionOption,
    topic: str | None = typer.Option(None, "--topic", help="search only this topic"),
    out: Path | None = typer.Option(None, "--out", help="write the proof here (default stdout)"),
) -> None:
    """Print a JSON inclusion proof of one event (exit 1 if it is not archived)."""
    proof = prove_event(open_url(source, load_settings()), event_id, topic)
    if proof is None:
        console.print(f"[red]event {event_id} is not in the archive[/]")
        raise typer.Exit(1)
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
    """Check an inclusion proof offline; exit 0 only if it holds."""
    ring = _keyring(public_key, keyring)
    try:
        proof: Any = orjson.loads(proof_file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"{proof_file}: not JSON: {exc}") from None
    problems = check_proof(proof, ring) if isinstance(proof, dict) else ["not a JSON object"]
    for p in problems:
        typer.echo(f"problem: {p}")
    if problems:
        typer.echo("FAILED")
        raise typer.Exit(1)
    typer.echo(
        f"OK: event {proof['event_id']} is {proof['topic']}/{proof['partition']} offset "
        f"{proof['offset']} of the signed batch {proof['object_key']}"
    )
