"""Errors never echo input, and no input crashes a command (issue 16): a rejected line names
input keys by a short hash, control characters never reach the terminal, and every listed
crash ends in a clean error with the documented exit code (``pipeline.cli.safe``)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.cli.safe import EXIT_FAILED, EXIT_OK, EXIT_REJECTED, EXIT_UNUSABLE, clean
from pipeline.events.jsonform import input_key
from pipeline.produce.generator import EventGenerator
from tests.hostile.conftest import Cli

REPO = Path(__file__).resolve().parents[2]
SENTINEL = "sentinel.person@example.org"
SECRET = "AKIAIOSFODNN7SENTINEL"
ANSI = "\x1b[31m"
MARKUP = "[/]"


def event(**changes: Any) -> dict[str, Any]:
    doc = dict(next(iter(EventGenerator(seed=5).events())))
    doc.update(changes)
    return doc


def line(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc) + b"\n"


HOSTILE_KEYS = [
    f"{MARKUP}{SENTINEL}",
    f"{ANSI}{SECRET}",
    f"[bold]{SENTINEL}[/bold]",
    SENTINEL * 200,
]


def _rejected_lines() -> list[tuple[str, bytes]]:
    out = []
    for i, key in enumerate(HOSTILE_KEYS):
        doc = event(details={key: {"nested": "not a string"}})
        out.append((f"map-key-{i}", line(doc)))
        doc = event()
        doc["actor"] = {**doc["actor"], key: 1}
        out.append((f"unknown-field-{i}", line(doc)))
    out.append(("dup-json-key", line(event())[:-2] + f', "{SENTINEL}": 1}}\n'.encode()))
    return out


@pytest.mark.parametrize("cmd", ["scrub", "sanitize", "enrich"])
@pytest.mark.parametrize(("name", "data"), _rejected_lines(), ids=[n for n, _ in _rejected_lines()])
def test_rejected_lines_name_keys_by_hash(cli: Cli, cmd: str, name: str, data: bytes) -> None:
    args = [cmd] if cmd == "enrich" else [cmd, "--dev-key"]
    r = cli(*args, stdin=data).check(EXIT_REJECTED, sentinels=[SENTINEL, SECRET, MARKUP])
    assert "line 1: rejected:" in r.err
    if name.startswith("map-key"):
        key = HOSTILE_KEYS[int(name.rsplit("-", 1)[1])]
        assert input_key(key) in r.err


@pytest.mark.parametrize(
    "ts",
    [12345, "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", f"{SENTINEL}", None, []],
)
def test_bad_timestamps_in_detect_are_clean_errors(cli: Cli, ts: object) -> None:
    r = cli("detect", stdin=line(event(ts=ts)))
    r.check(EXIT_UNUSABLE, sentinels=[SENTINEL])


def test_bad_timestamps_in_scrub_are_rejected_lines(cli: Cli) -> None:
    data = line(event(ts="9999-12-31T23:59:59-01:00")) + line(event(ts=12345))
    cli("scrub", "--dev-key", stdin=data).check(EXIT_REJECTED)


def test_year_one_round_trips(cli: Cli, tmp_path: Path) -> None:
    """scrub used to write ``1-01-01T…`` (strftime), which it then rejected as input."""
    r = cli("scrub", "--dev-key", stdin=line(event(ts="0001-01-01T00:00:00Z"))).check(EXIT_OK)
    assert '"ts":"0001-01-01T00:00:00.000000Z"' in r.out
    cli("scrub", "--dev-key", stdin=r.out.encode()).check(EXIT_OK)


def _keys(cli: Cli, tmp_path: Path) -> Path:
    cli("keys", "generate", "--out", str(tmp_path / "keys")).check(EXIT_OK)
    return next((tmp_path / "keys").glob("*.key.pem"))


@pytest.mark.parametrize(
    ("name", "doc", "code"),
    [
        ("year-1", event(ts="0001-01-01T00:00:00Z"), EXIT_OK),
        ("overflow", event(ts="9999-12-31T23:59:59-01:00"), EXIT_UNUSABLE),
        ("markup-key", event(details={f"{MARKUP}{SENTINEL}": {"x": 1}}), EXIT_UNUSABLE),
        ("int-ts", event(ts=12345), EXIT_UNUSABLE),
    ],
)
@pytest.mark.integration  # verify/prove/import emit the read's audit event (issue 12)
def test_import_hostile_events(
    cli: Cli, tmp_path: Path, name: str, doc: dict[str, Any], code: int
) -> None:
    private = _keys(cli, tmp_path)
    events = tmp_path / "e.jsonl"
    events.write_bytes(line(event()) + line(doc))
    dest = (tmp_path / "arch").as_uri()
    r = cli(
        "archive", "import", "--input", str(events), "--dest", dest, "--signing-key", str(private)
    )
    r.check(code, sentinels=[SENTINEL, MARKUP])
    if code == EXIT_OK:
        pub = next((tmp_path / "keys").glob("*.pub.pem"))
        cli("verify", "--source", dest, "--public-key", str(pub)).check(EXIT_OK)


def _alert(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((REPO / "tests" / "golden" / "alert.json").read_bytes())
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("name", "doc", "code"),
    [
        ("markup-group", _alert(group={f"{MARKUP}{SENTINEL}": "v"}), EXIT_OK),
        ("ansi-title", _alert(title=f"{ANSI}x"), EXIT_OK),
        ("overflow", _alert(ts="9999-12-31T23:59:59-01:00"), EXIT_UNUSABLE),
        ("int-ts", _alert(ts=5), EXIT_UNUSABLE),
    ],
)
def test_route_hostile_alerts(cli: Cli, name: str, doc: dict[str, Any], code: int) -> None:
    r = cli("route", "--dry-run", stdin=line(doc)).check(code)
    assert MARKUP + SENTINEL not in r.text or code == EXIT_OK  # printed as data, escaped


@pytest.mark.integration  # verify/prove/import emit the read's audit event (issue 12)
def test_prove_with_markup_in_the_event_id(cli: Cli, tmp_path: Path) -> None:
    private = _keys(cli, tmp_path)
    events = tmp_path / "e.jsonl"
    events.write_bytes(line(event()))
    dest = (tmp_path / "arch").as_uri()
    cli("archive", "import", "--input", str(events), "--dest", dest, "--signing-key", str(private))
    cli("prove", f"{MARKUP}{ANSI}x", "--source", dest).check(EXIT_FAILED)


def test_a_file_where_a_directory_is_expected(cli: Cli, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    cli("keys", "generate", "--out", str(f)).check(EXIT_UNUSABLE)
    events = tmp_path / "e.jsonl"
    events.write_bytes(line(event()))
    private = _keys(cli, tmp_path)
    args = ["archive", "import", "--input", str(events), "--signing-key", str(private)]
    cli(*args, "--dest", f.as_uri()).check(EXIT_UNUSABLE)
    cli("verify", "--source", f.as_uri(), "--keyring", str(f)).check(EXIT_UNUSABLE)
    cli("rules", "test", str(f)).check(EXIT_UNUSABLE)


def test_invalid_geo_database(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "geo.mmdb"
    bad.write_bytes(b"\x00" * 100 + SENTINEL.encode())
    for path in (bad, tmp_path):
        r = cli("enrich", "--geo-mmdb", str(path), stdin=line(event()))
        r.check(EXIT_UNUSABLE, sentinels=[SENTINEL])


@pytest.mark.parametrize(
    "key_line",
    [
        "k1 = hex:" + "ab" * 32 + "c",  # 65 hex digits
        "k1 = hex:" + "zz" * 32,
        "k1 = base64:" + "!" * 44,
        "k1 = hex:" + "ab" * 8,  # too short
    ],
)
def test_bad_key_files(cli: Cli, tmp_path: Path, key_line: str) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"active = k1\n{key_line}\n")
    keys.chmod(0o600)
    r = cli("scrub", "--keys", str(keys), stdin=line(event()))
    r.check(EXIT_UNUSABLE, sentinels=[key_line.split(":", 1)[1]])


def test_clean_strips_control_and_format_characters() -> None:
    assert clean(f"a{ANSI}b\x07c\u202ed\u200be\x9bf") == "a?[31mb?c?d?e?f"
    assert clean("é ü 名前 tab\tnl\n") == "é ü 名前 tab\tnl\n"
    assert clean("x" * 5000).endswith("…")


def test_every_printed_line_is_clean_for_many_hostile_keys(cli: Cli) -> None:
    chars = ["\x1b", "\x00", "\x7f", "\u202e", "\u2028", "[/]", "\ud800"]
    data = b"".join(
        orjson.dumps(event(details={a + SENTINEL + b: {"x": 1}})) + b"\n"
        for a, b in itertools.product(chars, repeat=2)
        if "\ud800" not in a + b
    )
    r = cli("scrub", "--dev-key", stdin=data).check(EXIT_REJECTED, sentinels=[SENTINEL])
    assert all(clean(ln) == ln for ln in r.err.splitlines())
