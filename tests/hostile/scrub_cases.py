"""Shared pieces of the scrubber-bypass hostile tests: a valid event in the JSON form, and
running it through both offline commands (``scrub`` and ``sanitize``)."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.cli.safe import EXIT_OK
from tests.hostile.conftest import Cli, Result

COMMANDS = ("scrub", "sanitize")


def event(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": "0b9f3f8e-4f7e-4a8e-9a51-1d1c6f0c2f11",
        "ts": "2026-11-01T10:00:00.123456Z",
        "service": "billing-api",
        "environment": "prod",
        "category": "AUTHN",
        "action": "login",
        "outcome": "SUCCESS",
        "actor": {"id": "u-42", "type": "user"},
        "request_id": "req-1",
    }
    doc.update(over)
    return doc


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
