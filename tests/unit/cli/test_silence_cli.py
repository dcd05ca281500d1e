"""`auditpipe silence`: argument checks made before any Kafka call, and the help."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.cli import silence
from pipeline.errors import ConfigError

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", 'actor="x"', "--comment", "c"], "unknown alert label 'actor'"),
        (["-m", "rule_id", "--comment", "c"], "matchers.0"),
        (["-m", 'rule_id="x"', "-d", "2x", "--comment", "c"], "not a duration"),
        (["-m", 'rule_id="x"', "--comment", "c", "--id", "a b"], "id"),
        (["-m", 'rule_id="x"', "--comment", "c", "--starts-at", "soon"], "--starts-at"),
        (
            ["-m", 'rule_id="x"', "--comment", "c", "--starts-at", "2026-11-28T10:00:00"],
            "time zone",
        ),
    ],
)
def test_add_rejects_bad_input_before_touching_kafka(args: list[str], message: str) -> None:
    result = runner.invoke(silence.app, ["add", *args])
    assert isinstance(result.exception, ConfigError)
    assert message in str(result.exception)


def test_help_names_the_matcher_syntax_and_durations() -> None:
    result = runner.invoke(silence.app, ["add", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "routing-file syntax" in result.output
    assert "30m, 2h, 1d" in result.output
