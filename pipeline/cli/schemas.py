"""`auditpipe schemas`: register the schemas in ``schemas/`` and check changes for compatibility."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.events import registry
from pipeline.events.schemas import schema_files, schemas_dir
from pipeline.events.serde import registry_client
from pipeline.settings import load_settings

app = typer.Typer(
    help="Avro schemas: register them, check changes are BACKWARD compatible.", no_args_is_help=True
)

DirOption = typer.Option(None, "--dir", help="schema directory (default: schemas/)")


def _run(directory: Path | None, do_register: bool) -> None:
    client = registry_client(load_settings().registry_url)
    files = schema_files(directory or schemas_dir())
    if not files:
        raise typer.BadParameter(f"no .avsc files in {directory or schemas_dir()}")
    table = Table(title="schemas " + ("register" if do_register else "check"))
    for col in ("file", "subject", "result", "id"):
        table.add_column(col)
    ok = True
    for path in files:
        result = registry.register(client, path) if do_register else registry.check(client, path)
        ok &= result.ok
        mark = "[green]ok[/]" if result.ok else "[red]REFUSED[/]"
        table.add_row(
            path.name, result.subject, f"{mark} {result.detail}", str(result.schema_id or "-")
        )
    Console().print(table)
    if not ok:
        raise typer.Exit(1)


@app.command()
def register(directory: Path | None = DirOption) -> None:
    """Register every schema (refusing incompatible changes); sets BACKWARD_TRANSITIVE."""
    _run(directory, do_register=True)


@app.command()
def check(directory: Path | None = DirOption) -> None:
    """Check every schema against all registered versions without registering; exit 1 if any
    is incompatible."""
    _run(directory, do_register=False)
