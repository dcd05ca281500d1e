"""Broken rules are errors with the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.detect import rules_app
from pipeline.detect.loader import lint
from tests.unit.detect.helpers import EXAMPLES, HEADER

GOOD_DETECTION = "  s:\n    action: login\n  condition: s\n"


def lint_text(tmp_path: Path, detection: str, extra: str = "") -> list[tuple[int | None, str]]:
    path = tmp_path / "broken.yml"
    path.write_text(f"title: t\nname: t.rule\n{HEADER}detection:\n{detection}{extra}{EXAMPLES}")
    _, errors = lint([path])
    assert all(e.file == str(path) for e in errors)
    return [(e.line, str(e)) for e in errors]


def test_good_rule_has_no_errors(tmp_path: Path) -> None:
    assert lint_text(tmp_path, GOOD_DETECTION) == []


@pytest.mark.parametrize(
    ("detection", "line", "words"),
    [
        (
            "  s:\n    action: login\n    actor.id|sounds_like: bob\n  condition: s\n",
            7,
            "sounds_like",
        ),
        ("  s:\n    action|base64: login\n  condition: s\n", 6, "not supported"),
        ("  s:\n    action: login\n  condition: s and and\n", 7, "condition"),
        ("  s:\n    action: login\n  condition: s and missing\n", 7, "missing"),
        ("  s:\n    action: login\n    actor.shoe_size|gt: 40\n  condition: s\n", 7, "shoe_size"),
        ("  s:\n    actor.ip|cidr: 10.0.0.0/33\n  condition: s\n", 6, "CIDR"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, detection: str, line: int, words: str) -> None:
    errors = lint_text(tmp_path, detection)
    assert errors, "expected an error"
    assert errors[0][0] == line, errors
    assert words.lower() in errors[0][1].lower()


def test_map_fields_accept_any_key_and_unknown_block_keys_fail(tmp_path: Path) -> None:
    assert lint_text(tmp_path, "  s:\n    details.anything: x\n  condition: s\n") == []
    path = tmp_path / "block.yml"
    path.write_text(
        f"title: t\nname: t.rule\n{HEADER}detection:\n{GOOD_DETECTION}" + EXAMPLES + "  windw: 1h\n"
    )
    _, errors = lint([path])
    assert [(e.line, "windw" in str(e)) for e in errors] == [(12, True)]


def test_unsupported_correlation_type(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        f"title: b\nname: t.base\n{HEADER}detection:\n{GOOD_DETECTION}---\n"
        "title: c\nname: t.c\ncorrelation:\n  type: value_sum\n  rules: [t.base]\n"
        "  group-by: [actor.id]\n  timespan: 5m\n  condition: {gte: 3, field: data.bytes}\n"
        + EXAMPLES
    )
    _, errors = lint([path])
    assert [(e.line, "not supported" in str(e)) for e in errors] == [(12, True)]


def test_rules_lint_command(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text(
        f"title: t\nname: t.rule\n{HEADER}detection:\n  s: {{act|nope: 1}}\n  condition: s\n"
    )
    result = CliRunner().invoke(rules_app, ["lint", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'x.yml'}:5:" in result.output
    shipped = CliRunner().invoke(rules_app, ["lint"])
    assert shipped.exit_code == 0, shipped.output
    assert CliRunner().invoke(rules_app, ["test"]).exit_code == 0
