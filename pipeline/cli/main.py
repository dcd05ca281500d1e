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
    replay,
    retention,
    route,
    run,
    sanitize,
    schemas,
    scrub,
    silence,
    stack,
    topics,
    trace,
    validate,
)
from pipeline.cli.safe import EXIT_INTERNAL, EXIT_UNUSABLE, clean
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
app.add_typer(replay.app, name="replay")
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
app.command(name="trace")(trace.trace)


@app.command()
def version() -> None:
    """Print auditpipe's version."""
    typer.echo(__version__)


def main() -> None:
    """Console script: run the app, turning our own errors into one clear line and exit 2, and
    anything unexpected into one line naming only its type and exit 4 (never a traceback: its
    text may quote hostile input). Exit codes: see ``pipeline.cli.safe``."""
    plog.configure("WARNING")
    err = Console(stderr=True)
    try:
        app()
    except PipelineError as exc:
        err.print(f"error: {clean(exc)}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_UNUSABLE)
    except (KeyboardInterrupt, SystemExit):
        raise
    except UnicodeDecodeError:
        err.print("error: a file given is not UTF-8 text", markup=False, highlight=False)
        sys.exit(EXIT_UNUSABLE)
    except RecursionError:
        err.print("error: input nested too deeply", markup=False, highlight=False)
        sys.exit(EXIT_UNUSABLE)
    except MemoryError:
        err.print("error: input too large for memory", markup=False, highlight=False)
        sys.exit(EXIT_UNUSABLE)
    except Exception as exc:  # the last line of defence: no traceback for any input
        err.print(f"internal error: {type(exc).__name__}", markup=False, highlight=False)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
