"""`auditpipe break-glass open|close|expire|watch|status`: time-bound access to raw input and
dead letters for the break-glass principal (see ``pipeline.kafka.breakglass``).

Opening and closing are each an ADMIN audit event (``break_glass.open``,
``break_glass.close``) sent through the SDK to ``audit.raw.auditpipe-break-glass``, naming who,
why and until when; the shipped rule ``admin.break_glass`` pages on every open. ``expire`` closes
it once the TTL has passed (run it from cron, or keep ``watch`` running).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import typer

from pipeline.archive.lifecycle.audit import operator
from pipeline.cli.acl import CLIENT_CONFIG_OPTION, FILE_OPTION, admin_connection
from pipeline.errors import ConfigError
from pipeline.events.jsonform import format_ts
from pipeline.kafka import acls
from pipeline.kafka.breakglass import Glass, GlassState, now_utc
from pipeline.produce.own import own_audit_producer
from pipeline.route.config import parse_duration
from pipeline.settings import Settings, load_settings

app = typer.Typer(help="Break-glass: time-bound read of raw topics and the DLQ.")

SERVICE = "auditpipe-break-glass"


def _glass(file: Path, client_config_file: Path | None) -> tuple[Settings, Glass]:
    settings = load_settings()
    conn = admin_connection(settings, client_config_file)
    return settings, Glass(acls.load_file(file), conn)


def _audit(settings: Settings, glass: Glass, action: str, state: GlassState) -> str:
    """Emit the ADMIN audit event of an open or close; wait until the broker has it."""
    conn = glass.conn.model_copy(update={"client_id": SERVICE})
    closing = action == "break_glass.close"
    details = {
        "principal": state.principal,
        "reason": state.reason,
        "opened_by": state.opened_by,
        "opened_at": format_ts(state.opened_at),
        "expires_at": format_ts(state.expires_at),
        "ttl_s": str(int((state.expires_at - state.opened_at).total_seconds())),
    }
    if closing and state.closed_at is not None:
        details["closed_at"] = format_ts(state.closed_at)
        details["close_reason"] = state.close_reason or ""
    actor = (state.closed_by if closing else state.opened_by) or "unknown"
    with own_audit_producer(settings, conn, SERVICE, broker_required=True) as producer:
        event_id = producer.emit(
            category="ADMIN",
            action=action,
            actor={"id": actor, "type": "user"},
            target={"type": "kafka_principal", "id": state.principal},
            authz={"decision": "ALLOW", "role": "break-glass"},
            details=details,
        )
        if producer.flush(30) or producer.stats().spooled:  # spooled: the registry was down
            raise ConfigError("the break-glass audit event was not acknowledged (spooled)")
    return event_id


def _duration(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    assert isinstance(value, timedelta)
    return value


@app.command("open")
def open_(
    reason: str = typer.Option(..., "--reason", help="why (recorded in the audit trail)"),
    ttl: str = typer.Option("1h", "--ttl", help="how long (30m, 1h, ...; at most max_ttl_s)"),
    file: Path = FILE_OPTION,
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Grant the break-glass principal its grants until the TTL is over."""
    settings, glass = _glass(file, client_config_file)
    state = glass.open_glass(actor=operator(), reason=reason, ttl=_duration(ttl), now=now_utc())
    event_id = _audit(settings, glass, "break_glass.open", state)
    typer.echo(
        f"break-glass open for {state.principal} until {format_ts(state.expires_at)} "
        f"(audit event {event_id})"
    )


@app.command()
def close(
    reason: str = typer.Option("closed", "--reason", help="why it is closed"),
    file: Path = FILE_OPTION,
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Remove the grants now."""
    settings, glass = _glass(file, client_config_file)
    state = glass.close_glass(actor=operator(), reason=reason, now=now_utc())
    if state is None:
        typer.echo("break-glass was not open")
        return
    event_id = _audit(settings, glass, "break_glass.close", state)
    typer.echo(f"break-glass closed for {state.principal} (audit event {event_id})")


def _expire_once(settings: Settings, glass: Glass) -> bool:
    state = glass.expire(now=now_utc())
    if state is None:
        return False
    event_id = _audit(settings, glass, "break_glass.close", state)
    typer.echo(f"break-glass expired for {state.principal} (audit event {event_id})")
    return True


@app.command()
def expire(
    file: Path = FILE_OPTION,
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Close break-glass if its TTL is over (or grants exist without an open record)."""
    settings, glass = _glass(file, client_config_file)
    if not _expire_once(settings, glass):
        typer.echo("nothing to expire")


@app.command()
def watch(
    interval: float = typer.Option(10.0, "--interval", min=0.5, help="seconds between looks"),
    file: Path = FILE_OPTION,
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Run `expire` every INTERVAL seconds until interrupted."""
    settings, glass = _glass(file, client_config_file)
    while True:
        _expire_once(settings, glass)
        time.sleep(interval)


@app.command()
def status(
    file: Path = FILE_OPTION,
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Show whether break-glass is open, by whom, why and until when."""
    _, glass = _glass(file, client_config_file)
    glass.ensure_topic()
    state = glass.state()
    granted = glass.granted()
    if state is None or not state.is_open:
        typer.echo(f"closed ({len(granted)} grants on the broker)")
        return
    typer.echo(
        f"open by {state.opened_by} until {format_ts(state.expires_at)}: {state.reason} "
        f"({len(granted)} grants on the broker)"
    )
