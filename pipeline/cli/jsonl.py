"""What the offline commands (`scrub`, `enrich`, `sanitize`) share: JSON Lines in the event
schema's JSON form on stdin, one output line per valid input line on stdout, in order.

A line that is not a valid event, or that the transform fails on, is reported on stderr with
its number and the reason — never its content, nor an exception's text (it may quote the
value); a key from the input shows as ``#`` and a short hash of it (``jsonform.input_key``),
and control characters never reach the terminal (``safe.clean``) — and skipped; processing
goes on. Exit status: 0 when every line was processed, 3 when
some were rejected, 2 when the command cannot start (bad policy, catalog or keys).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import typer
from rich.console import Console

from pipeline.cli.safe import clean
from pipeline.errors import ConfigError, InvalidEventError, RuleError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema

console = Console(stderr=True)

EXIT_REJECTED = 3
EXIT_UNUSABLE = 2

Transform = Callable[[dict[str, Any]], dict[str, Any]]

CATALOG_OPTION: Any = typer.Option(
    None, "--catalog", help="service catalog (YAML) (default: rules/services.yaml)"
)
GEO_OPTION: Any = typer.Option(
    None,
    "--geo-mmdb",
    help="MaxMind/DB-IP country database (.mmdb) (default: the database bundled with iptocc)",
)


def default_catalog_path() -> Path:
    return Path(__file__).resolve().parents[2] / "rules" / "services.yaml"


def run_lines(transform: Transform, source: BinaryIO, sink: BinaryIO) -> tuple[int, int]:
    """Transform every line of ``source`` to ``sink``; returns (done, rejected)."""
    schema = parsed_schema(AUDIT_EVENT)
    done = rejected = 0
    for lineno, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            out = jsonform.dumps(schema, transform(jsonform.loads(schema, line)))
        except InvalidEventError as exc:
            reason = exc.reason
        except Exception as exc:  # one bad line never stops the run; its text may quote data
            reason = f"{type(exc).__name__} while processing"
        else:
            sink.write(out + b"\n")
            done += 1
            continue
        rejected += 1
        console.print(
            f"line {lineno}: rejected: {clean(reason)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    sink.flush()
    return done, rejected


def unusable(exc: ConfigError | RuleError) -> typer.Exit:
    """Report a start-up error and return the exit to raise."""
    console.print(f"error: {clean(exc)}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(EXIT_UNUSABLE)


def finish(verb: str, done: int, rejected: int) -> None:
    """The summary line on stderr, and exit 3 if any line was rejected."""
    console.print(
        f"{verb} {done:,} events" + (f", rejected {rejected:,} lines" if rejected else ""),
        highlight=False,
    )
    if rejected:
        raise typer.Exit(EXIT_REJECTED)
