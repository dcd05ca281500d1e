"""`auditpipe scrub`: scrub JSON Lines events offline, stdin to stdout, with the same policy
and keys as the sanitizer stage.

    auditpipe scrub [--policy rules/scrub.yaml] --keys scrub.keys < events.jsonl > out.jsonl

One output line per valid input line, in order. An invalid line is reported on stderr with
its number and the reason (never its content) and skipped; the exit code is 0 when every
line was scrubbed, 3 when some were rejected, 2 when the policy or keys are unusable.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

import typer
from rich.console import Console

from pipeline.errors import ConfigError, InvalidEventError, RuleError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.scrub import Scrubber, ScrubKeys, dev_keys, load_keys_from_file, load_policy

console = Console(stderr=True)

EXIT_REJECTED = 3
EXIT_UNUSABLE = 2

NO_KEYS = (
    "no pseudonym key: pass --keys FILE (lines 'active = k1' and 'k1 = hex:<64 hex digits>', "
    "mode 0600; see pipeline/scrub/keys.py), or --dev-key for a development key that "
    "protects nothing"
)


def _keys(keys: Path | None, dev_key: bool) -> ScrubKeys:
    if keys is not None and dev_key:
        raise ConfigError("give either --keys or --dev-key, not both")
    if keys is not None:
        return load_keys_from_file(keys)
    if dev_key:
        console.print(
            "[yellow]warning:[/] using the DEVELOPMENT key (pseudonyms 'ps:dev:…' are "
            "reproducible by anyone; never use it for real data)",
            highlight=False,
        )
        return dev_keys()
    raise ConfigError(NO_KEYS)


def run(scrubber: Scrubber, source: BinaryIO, sink: BinaryIO) -> tuple[int, int]:
    """Scrub every line of ``source`` to ``sink``; returns (scrubbed, rejected)."""
    schema = parsed_schema(AUDIT_EVENT)
    done = rejected = 0
    for lineno, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            out = jsonform.dumps(schema, scrubber.scrub(jsonform.loads(schema, line)))
        except InvalidEventError as exc:
            rejected += 1
            console.print(f"line {lineno}: rejected: {exc.reason}", highlight=False, markup=False)
            continue
        sink.write(out + b"\n")
        done += 1
    sink.flush()
    return done, rejected


def scrub(
    policy: Path | None = typer.Option(
        None, "--policy", "-p", help="scrub policy (YAML) [default: rules/scrub.yaml]"
    ),
    keys: Path | None = typer.Option(
        None, "--keys", "-k", help="pseudonym key file (see pipeline/scrub/keys.py)"
    ),
    dev_key: bool = typer.Option(
        False, "--dev-key", help="use a fixed development key (version 'dev'); protects nothing"
    ),
) -> None:
    """Scrub audit events (JSON Lines on stdin) with the sanitizer's policy; write to stdout."""
    try:
        scrubber = Scrubber(load_policy(policy), _keys(keys, dev_key))
    except (ConfigError, RuleError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None
    done, rejected = run(scrubber, sys.stdin.buffer, sys.stdout.buffer)
    console.print(
        f"scrubbed {done:,} events" + (f", rejected {rejected:,} lines" if rejected else ""),
        highlight=False,
    )
    if rejected:
        raise typer.Exit(EXIT_REJECTED)
