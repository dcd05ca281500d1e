"""Duplicates in import (issue 16): importing the same file twice must not double the archive;
events already archived (by event_id) or repeated in the file are skipped and counted."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest

from pipeline.cli.safe import EXIT_OK
from pipeline.produce.generator import EventGenerator
from tests.hostile.conftest import Cli

# verify, verify-proof and import emit the read's audit event (issue 12): they need the stack
pytestmark = pytest.mark.integration

SENTINEL = "sentinel.person@example.org"


@pytest.fixture
def setup(cli: Cli, tmp_path: Path) -> tuple[list[bytes], Path, Path, str]:
    cli("keys", "generate", "--out", str(tmp_path / "keys")).check(EXIT_OK)
    private = next((tmp_path / "keys").glob("*.key.pem"))
    public = next((tmp_path / "keys").glob("*.pub.pem"))
    docs = itertools.islice(EventGenerator(seed=3).events(), 120)
    lines = [orjson.dumps({**d, "actor": {**d["actor"], "id": SENTINEL}}) + b"\n" for d in docs]
    return lines, private, public, (tmp_path / "arch").as_uri()


def _import(cli: Cli, tmp_path: Path, private: Path, dest: str, lines: list[bytes]) -> str:
    f = tmp_path / "in.jsonl"
    f.write_bytes(b"".join(lines))
    args = ["archive", "import", "--input", str(f), "--dest", dest, "--signing-key", str(private)]
    r = cli(*args, "--batch-size", "25").check(EXIT_OK, sentinels=[SENTINEL])
    return r.out


def test_importing_the_same_file_twice_does_not_double(
    cli: Cli, tmp_path: Path, setup: tuple[list[bytes], Path, Path, str]
) -> None:
    lines, private, public, dest = setup
    out = _import(cli, tmp_path, private, dest, lines)
    assert "imported 120 events" in out
    assert "skipped 0 duplicates" in out
    out = _import(cli, tmp_path, private, dest, lines)
    assert "imported 0 events" in out
    assert "skipped 120 duplicates" in out
    r = cli("verify", "--source", dest, "--public-key", str(public)).check(EXIT_OK)
    assert r.out.startswith("OK; 120 events")


def test_overlap_and_repeats_within_a_file(
    cli: Cli, tmp_path: Path, setup: tuple[list[bytes], Path, Path, str]
) -> None:
    lines, private, public, dest = setup
    _import(cli, tmp_path, private, dest, lines[:80])
    # 40 already archived, 40 new, and each new one twice in the file
    out = _import(cli, tmp_path, private, dest, lines[40:] + lines[80:])
    assert "imported 40 events" in out
    assert "skipped 80 duplicates" in out
    r = cli("verify", "--source", dest, "--public-key", str(public)).check(EXIT_OK)
    assert r.out.startswith("OK; 120 events")
