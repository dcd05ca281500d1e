"""`auditpipe silence add|list|expire|prune`: time-bounded mutes in the compacted silences topic.

Every router instance reads the whole topic, so a silence acts everywhere within a second.
Matchers use the routing file's syntax (``severity="HIGH"``, ``rule_id=~"auth\\..*"``,
``group.actor.id="ps:..."``); a silence mutes an alert when all its matchers match.

``add``, ``expire`` and ``prune`` (not ``--dry-run``) are each an ADMIN audit event
(``silence.create|expire|prune``, see ``pipeline.route.silencelog.audit_silence``) naming the
OS account that ran them, the silence(s) and the comment.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from pipeline.archive.lifecycle.audit import operator
from pipeline.errors import ConfigError
from pipeline.events.jsonform import format_ts
from pipeline.kafka import clients
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topics import pipeline_topics
from pipeline.route.config import parse_duration
from pipeline.route.silencelog import (
    audit_silence,
    expire_silence,
    load_silences,
    new_silence_id,
    prune_silences,
    put_silence,
    silence_details,
)
from pipeline.route.silences import Silence
from pipeline.settings import Settings, load_settings

app = typer.Typer(
    help="Silences: mute matching alerts for a while (stored in a compacted Kafka topic).",
    no_args_is_help=True,
)


def _conn(settings: Settings) -> KafkaConnection:
    conn = clients.connection(settings, "auditpipe-cli")
    silences = [s for s in pipeline_topics(settings) if s.name == settings.topics.silences]
    ensure_topics(conn, silences)
    return conn


def _when(text: str | None, now: datetime, what: str) -> datetime:
    if text is None:
        return now
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{what}: not an RFC 3339 time: {text!r}") from None
    if value.tzinfo is None:
        raise ConfigError(f"{what}: give a time zone (e.g. 2026-11-28T14:00:00Z)")
    return value.astimezone(UTC)


@app.command()
def add(
    matcher: list[str] = typer.Option(
        ...,
        "--matcher",
        "-m",
        help="label matcher, routing-file syntax, e.g. 'rule_id=\"auth.mfa_disabled\"' "
        "(repeatable; all must match)",
    ),
    duration: str = typer.Option("2h", "--duration", "-d", help="how long: 30m, 2h, 1d, 1h30m"),
    comment: str = typer.Option(..., "--comment", help="why (shown in `silence list`)"),
    author: str | None = typer.Option(None, "--author", help="who (default: your user name)"),
    starts_at: str | None = typer.Option(None, "--starts-at", help="RFC 3339 (default: now)"),
    silence_id: str | None = typer.Option(None, "--id", help="id (default: generated)"),
) -> None:
    """Add a silence (or replace the one with the same --id); prints its id."""
    settings = load_settings()
    now = datetime.now(UTC)
    start = _when(starts_at, now, "--starts-at")
    try:
        length = parse_duration(duration)
        silence = Silence.model_validate(
            {
                "id": silence_id or new_silence_id(),
                "matchers": matcher,
                "starts_at": start,
                "ends_at": start + length,
                "created_by": author or getpass.getuser(),
                "comment": comment,
            }
        )
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"invalid silence: {_first_error(exc)}") from None
    put_silence(_conn(settings), settings.topics.silences, silence)
    event_id = audit_silence(
        settings, "silence.create", silence.id, silence_details(silence), actor=operator()
    )
    typer.echo(silence.id)
    Console(stderr=True).print(
        f"silence {silence.id} until {format_ts(silence.ends_at)} (audit event {event_id})",
        highlight=False,
    )


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"
    return str(exc)


@app.command(name="list")
def list_(
    show_all: bool = typer.Option(False, "--all", help="also expired silences"),
) -> None:
    """List the active and pending silences (with --all, expired ones too)."""
    settings = load_settings()
    now = datetime.now(UTC)
    silences = load_silences(_conn(settings), settings.topics.silences)
    table = Table(title=f"Silences ({settings.topics.silences})")
    table.add_column("id", no_wrap=True)
    for col in ("state", "matchers", "starts", "ends", "by", "comment"):
        table.add_column(col, overflow="fold")
    rows = sorted(silences.all(), key=lambda s: (s.starts_at, s.id))
    for s in rows:
        state = "active" if s.active(now) else "expired" if s.expired(now) else "pending"
        if state == "expired" and not show_all:
            continue
        table.add_row(
            s.id,
            state,
            ", ".join(m.text() for m in s.matchers),
            format_ts(s.starts_at),
            format_ts(s.ends_at),
            s.created_by,
            s.comment,
        )
    Console().print(table)


@app.command()
def expire(silence_id: str = typer.Argument(..., help="the silence's id")) -> None:
    """End a silence now (a pending one is deleted)."""
    settings = load_settings()
    now = datetime.now(UTC)
    ended, done = expire_silence(_conn(settings), settings.topics.silences, silence_id, now)
    if done == "already expired":
        typer.echo(f"{ended.id} had already expired")
        return
    details = {**silence_details(ended), "expiry": done, "expired_at": format_ts(now)}
    event_id = audit_silence(settings, "silence.expire", ended.id, details, actor=operator())
    typer.echo(f"expired {ended.id} (audit event {event_id})")


@app.command()
def prune(
    keep: str = typer.Option(
        "30d", "--keep", help="keep expired silences this long after they ended (30d, 12h, …)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be deleted"),
) -> None:
    """Delete silences that ended more than --keep ago (tombstones; compaction drops them)."""
    settings = load_settings()
    try:
        length = parse_duration(keep)
    except ValueError as exc:
        raise ConfigError(f"--keep: {exc}") from None
    now = datetime.now(UTC)
    gone = prune_silences(_conn(settings), settings.topics.silences, length, now, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for s in gone:
        typer.echo(f"{verb} {s.id} (ended {format_ts(s.ends_at)})")
    if gone and not dry_run:
        details = {
            "silence_ids": ",".join(s.id for s in gone),
            "count": str(len(gone)),
            "keep": keep,
            "ended_before": format_ts(now - length),
        }
        event_id = audit_silence(
            settings, "silence.prune", settings.topics.silences, details, actor=operator()
        )
        typer.echo(f"audit event {event_id}")
    Console(stderr=True).print(
        f"{verb} {len(gone)} silences that ended before {format_ts(now - length)}",
        highlight=False,
    )
