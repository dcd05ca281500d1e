"""`auditpipe acl apply|check`: the broker's ACLs made to match ``deploy/kafka/acls.yaml``.

``apply`` prints the diff (``+`` added, ``-`` removed) and carries it out unless ``--dry-run``;
a second run finds nothing to do. ``check`` prints the drift and exits 1 when there is any.
Both talk to the broker as the admin: ``--client-config FILE`` (a librdkafka properties file),
else the local stack's ``.stack/secure/clients/admin.properties``, else the settings' client.
"""

from __future__ import annotations

from pathlib import Path

import typer
from confluent_kafka.admin import AdminClient

from pipeline.kafka import acls, clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.secured import connection_from_properties
from pipeline.settings import Settings, load_settings
from pipeline.stack.secure import ADMIN, SecureFiles

CLIENT_ID = "auditpipe-admin"
app = typer.Typer(help="ACLs as code (deploy/kafka/acls.yaml).", no_args_is_help=True)

FILE_OPTION = typer.Option(
    Path("deploy/kafka/acls.yaml"), "--file", "-f", help="the ACL file", exists=True
)
CLIENT_CONFIG_OPTION = typer.Option(
    None, "--client-config", help="librdkafka properties file of the admin principal"
)


def admin_connection(settings: Settings, client_config_file: Path | None) -> KafkaConnection:
    """The admin's connection: the given properties file; else the local stack's admin (when
    no external cluster is configured); else the settings' (``AUDITPIPE_KAFKA__*``)."""
    if client_config_file is not None:
        return connection_from_properties(client_config_file, CLIENT_ID)
    local = SecureFiles.of(settings.stack).client_properties(ADMIN)
    if not settings.uses_external_services and not settings.production and local.is_file():
        return connection_from_properties(local, CLIENT_ID)
    return clients.connection(settings, CLIENT_ID)


def _plan(file: Path, client_config_file: Path | None) -> tuple[AdminClient, acls.Plan]:
    wanted = acls.load_file(file)
    admin = clients.admin(admin_connection(load_settings(), client_config_file))
    return admin, acls.plan(wanted, acls.current_acls(admin))


def _show(p: acls.Plan) -> None:
    for line in p.lines():
        typer.echo(line)
    if p.break_glass_open:
        typer.echo("break-glass is open (its grants are left alone)")


@app.command()
def apply(
    file: Path = FILE_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="show the diff, change nothing"),
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Make the broker's ACLs match the file (idempotent); print what changes."""
    admin, p = _plan(file, client_config_file)
    _show(p)
    if p.in_sync:
        typer.echo("ACLs match the file; nothing to do")
        return
    if dry_run:
        typer.echo(f"dry run: {len(p.add)} to add, {len(p.remove)} to remove")
        return
    acls.apply_plan(admin, p)
    typer.echo(f"applied: {len(p.add)} added, {len(p.remove)} removed")


@app.command()
def check(
    file: Path = FILE_OPTION,
    client_config_file: Path | None = CLIENT_CONFIG_OPTION,
) -> None:
    """Report drift between the broker and the file; exit 1 when there is any."""
    _, p = _plan(file, client_config_file)
    _show(p)
    if not p.in_sync:
        typer.echo(f"drift: {len(p.add)} missing, {len(p.remove)} not in the file")
        raise typer.Exit(1)
    typer.echo("ACLs match the file")
