"""Entry point of the `auditpipe` command."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from pipeline import __version__
from pipeline import logging as plog
from pipeline.cli import (
    acl,
    archive,
    break_glass,
    config,
    consume,
    demo,
    detect,
    enrich,
    legal_hold,
    produce,
    retention,
    route,
    run,
    sanitize,
    schemas,
    scrub,
    silence,
    stack,
    topics,
    validate,
)
from pipeline.errors import PipelineError

app = typer.Typer(
    name="auditpipe",
    help="auditpipe: an audit-logging pipeline on Apache Kafka (scrub, detect, alert, archive).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack.app, name="stack")
app.add_typer(acl.app, name="acl")
app.add_typer(break_glass.app, name="break-glass")
app.add_typer(config.app, name="config")
app.add_typer(schemas.app, name="schemas")
app.add_typer(topics.app, name="topics")
app.add_typer(detect.rules_app, name="rules")
app.add_typer(run.app, name="run")
app.add_typer(silence.app, name="silence")
app.add_typer(archive.keys_app, name="keys")
app.add_typer(archive.archive_app, name="archive")
app.add_typer(legal_hold.app, name="legal-hold")
app.add_typer(retention.app, name="retention")
app.command(name="demo")(demo.demo)
app.command(name="produce")(produce.produce)
app.command(name="consume")(consume.consume)
app.command(name="validate")(validate.validate)
app.command(name="detect")(detect.detect)
app.command(name="route")(route.route)
app.command(name="scrub")(scrub.scrub)
app.command(name="enrich")(enrich.enrich)
app.command(name="sanitize")(sanitize.sanitize)
app.command(name="verify")(archive.verify)
app.command(name="prove")(archive.prove)
app.command(name="verify-proof")(archive.verify_proof)


@app.command()
def version() -> None:
    """Print auditpipe's version."""
    typer.echo(__version__)


def main() -> None:
    """Console script: run the app, turning our own errors into one clear line and exit 2."""
    plog.configure("WARNING")
    try:
        app()
    except PipelineError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
