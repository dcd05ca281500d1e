from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from pipeline.cli.main import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("stack", "demo", "version"):
        assert cmd in result.output


def test_stack_help_lists_subcommands() -> None:
    result = runner.invoke(app, ["stack", "--help"])
    assert result.exit_code == 0
    for cmd in ("up", "down", "status", "logs", "fetch"):
        assert cmd in result.output


def test_unknown_service_logs_is_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "stack", "logs", "zookeeper"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown service" in proc.stderr
    assert "kafka" in proc.stderr
