"""Shared pieces of the scrubber-bypass hostile tests: a valid event in the JSON form, and
running it through both offline commands (``scrub`` and ``sanitize``)."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.cli.safe import EXIT_OK
from pipeline.events import jsonform
from tests.hostile.conftest import Cli, Result
from tests.unit.scrub import helpers
from tests.unit.scrub.helpers import SCHEMA

COMMANDS = ("scrub", "sanitize")


def event(**over: Any) -> dict[str, Any]:
    """A valid event in the JSON form; keyword arguments replace top-level fields."""
    return jsonform.to_json(SCHEMA, helpers.event(**over))


def run(cli: Cli, command: str, *docs: dict[str, Any] | bytes) -> Result:
    lines = b"".join((d if isinstance(d, bytes) else orjson.dumps(d)) + b"\n" for d in docs)
    return cli(command, "--dev-key", stdin=lines)


def scrubbed(
    cli: Cli, command: str, doc: dict[str, Any], sentinels: list[str], bound_s: float = 10.0
) -> dict[str, Any]:
    """One event through ``command``: exit 0, no sentinel anywhere, one output line."""
    r = run(cli, command, doc).check(EXIT_OK, sentinels=sentinels, bound_s=bound_s)
    [line] = r.out.splitlines()
    out: dict[str, Any] = orjson.loads(line)
    return out
