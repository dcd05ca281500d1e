"""`auditpipe scrub`: JSON Lines in, scrubbed JSON Lines out, errors by line number."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli.scrub import scrub
from pipeline.scrub.treatments import Pseudonymizer
from tests.unit.scrub.helpers import KEYS

app = typer.Typer()
app.command()(scrub)
runner = CliRunner()

GOOD = {
    "event_id": "e-1",
    "ts": "2026-11-01T10:00:00.123456Z",
    "service": "billing-api",
    "environment": "prod",
    "category": "AUTHN",
    "action": "login",
    "outcome": "FAILURE",
    "actor": {"id": "alice@example.com", "type": "user", "ip": "203.0.113.9"},
    "request_id": "r-1",
    "details": {"note": "card 4111 1111 1111 1111, mail alice@example.com"},
}


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUDITPIPE_HMAC_KEY", "AUDITPIPE_HMAC_KEY_FILE", "AUDITPIPE_HMAC_KEY_VERSION"):
        monkeypatch.delenv(name, raising=False)


SECRET_LINE = b'{"event_id": "e-2", "password": "hunter2"}'


def _key_file(tmp_path: Path) -> Path:
    path = tmp_path / "scrub.keys"
    lines = ["active = k1"] + [f"{v} = hex:{k.hex()}" for v, k in KEYS.keys.items()]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def test_scrubs_each_line_in_order(tmp_path: Path) -> None:
    second = {**GOOD, "event_id": "e-2", "details": {}}
    stdin = orjson.dumps(GOOD) + b"\n\n" + orjson.dumps(second) + b"\n"
    result = runner.invoke(app, ["--keys", str(_key_file(tmp_path))], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.stdout_bytes.splitlines()]
    assert [doc["event_id"] for doc in lines] == ["e-1", "e-2"]
    first = lines[0]
    assert first["actor"]["id"] == Pseudonymizer(KEYS)("alice@example.com")
    assert first["actor"]["ip"] == "203.0.113.0"
    assert first["details"]["note"] == "card [card:…1111], mail [email]"
    assert first["pipeline"]["key_version"] == "k1"
    assert b"alice" not in result.stdout_bytes
    assert b"4111 1111" not in result.stdout_bytes


def test_bad_lines_are_reported_by_number_without_content(tmp_path: Path) -> None:
    stdin = b"\n".join([orjson.dumps(GOOD), b"{not json", SECRET_LINE, orjson.dumps(GOOD)])
    result = runner.invoke(app, ["--dev-key"], input=stdin)
    assert result.exit_code == 3
    assert len(result.stdout_bytes.splitlines()) == 2
    assert "line 2: rejected: not valid JSON" in result.stderr
    assert "line 3: rejected:" in result.stderr
    assert "hunter2" not in result.stderr
    assert "DEVELOPMENT key" in result.stderr
    assert b"ps:dev:" in result.stdout_bytes


def test_without_keys_it_says_how_to_provide_them() -> None:
    result = runner.invoke(app, [], input=orjson.dumps(GOOD))
    assert result.exit_code == 2
    assert "--keys FILE" in result.stderr
    assert "--dev-key" in result.stderr
    assert result.stdout_bytes == b""


def test_a_broken_policy_stops_with_file_and_line(tmp_path: Path) -> None:
    policy = tmp_path / "scrub.yaml"
    policy.write_text("version: 1\nfindings:\n  shoe_size: redact\n")
    result = runner.invoke(app, ["--policy", str(policy), "--dev-key"], input=b"")
    assert result.exit_code == 2
    assert f"{policy}:3: unknown detector 'shoe_size'" in result.stderr.replace("\n", "")


def test_the_key_comes_from_the_stage_settings_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = Pseudonymizer(KEYS)("alice@example.com")
    monkeypatch.setenv("AUDITPIPE_HMAC_KEY_FILE", str(_key_file(tmp_path)))
    result = runner.invoke(app, [], input=orjson.dumps(GOOD))
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout_bytes)["actor"]["id"] == expected

    monkeypatch.delenv("AUDITPIPE_HMAC_KEY_FILE")
    monkeypatch.setenv("AUDITPIPE_HMAC_KEY", KEYS.keys["k1"].hex())
    monkeypatch.setenv("AUDITPIPE_HMAC_KEY_VERSION", "k1")
    result = runner.invoke(app, [], input=orjson.dumps(GOOD))
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout_bytes)["actor"]["id"] == expected

    result = runner.invoke(app, ["--dev-key"], input=orjson.dumps(GOOD))
    assert result.exit_code == 2
    assert "AUDITPIPE_HMAC_KEY" in result.stderr
