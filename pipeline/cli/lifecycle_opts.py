"""Options and helpers shared by `auditpipe legal-hold` and `auditpipe retention`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from pipeline.archive.format.keys import Signer, load_private_key
from pipeline.archive.lifecycle.regions import Region, open_regions
from pipeline.archive.lifecycle.retention import Retention, load_retention
from pipeline.cli.archive import _progress as progress  # one progress-bar style
from pipeline.errors import ConfigError
from pipeline.settings import Settings

console = Console(stderr=True)
__all__ = ["progress"]

RegionsOption = typer.Option(
    None, "--region", help="only this region (repeatable; default: every configured region)"
)
BucketPrefixOption = typer.Option(
    None, "--bucket-prefix", help="buckets are PREFIX-REGION (default: the archive setting)"
)
ArchivePrefixOption = typer.Option(
    "", "--archive-prefix", help="the archive's key prefix inside each bucket"
)
SigningKeyOption = typer.Option(
    None, "--signing-key", help="Ed25519 private key PEM (default: the archive setting)"
)
RetentionOption = typer.Option(
    None, "--retention", help="retention classes (default: rules/retention.yaml)"
)
ActorOption = typer.Option(None, "--actor", help="who acts (default: the OS account)")


def now() -> datetime:
    return datetime.now(UTC)


def signer(settings: Settings, path: Path | None) -> Signer:
    path = path or settings.archive.signing_key
    if path is None:
        raise ConfigError(
            "no signing key: pass --signing-key or set AUDITPIPE_ARCHIVE__SIGNING_KEY "
            "(records of lifecycle actions are signed like the archive)"
        )
    return load_private_key(path)


def retention(settings: Settings, path: Path | None) -> Retention:
    return load_retention(path or settings.rules_dir / "retention.yaml")


def regions(
    settings: Settings, names: list[str] | None, bucket_prefix: str | None, archive_prefix: str
) -> list[Region]:
    return open_regions(
        settings, regions=names, bucket_prefix=bucket_prefix, archive_prefix=archive_prefix
    )
