"""The policy compiles once and fails closed, with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import RuleError
from pipeline.scrub import load_policy, parse_policy
from pipeline.scrub.detectors import DETECTORS

GOOD = """\
version: 1
fields:
  actor.id: pseudonymize
  details.*: detect
  details.password: drop
findings:
  card: mask
"""


def rules_by_selector(text: str) -> dict[str, tuple[str, dict[str, str]]]:
    policy = parse_policy(text, "p.yaml")
    return {r.selector: (r.treatment, dict(r.overrides)) for r in policy.rules}


def test_shipped_policy_compiles() -> None:
    policy = load_policy()
    rules = {r.selector: r.treatment for r in policy.rules}
    assert rules["actor.id"] == "pseudonymize"
    assert rules["actor.ip"] == "truncate"
    assert rules["details.*"] == "detect"
    assert rules["event_id"] == "keep"
    assert set(policy.findings) == set(DETECTORS)


def test_unnamed_string_fields_get_the_default_and_ids_are_kept() -> None:
    rules = rules_by_selector(GOOD)
    assert rules["details.*"] == ("detect", {"password": "drop"})
    assert rules["actor.user_agent"][0] == "detect"  # not named: default
    assert rules["http.path"][0] == "detect"
    for protected in ("event_id", "request_id", "trace_id", "span_id"):
        assert rules[protected][0] == "keep"
    assert "ts" not in rules  # not a string
    policy = parse_policy(GOOD, "p.yaml")
    assert policy.findings["card"] == "mask"
    assert policy.findings["email"] == "redact"  # unlisted detectors still run


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD + "  shoe_size: redact\n", 8, "unknown detector 'shoe_size'"),
        (GOOD + "  email: hash\n", 8, "unknown treatment 'hash' for detector email"),
        (GOOD + "  email: truncate\n", 8, "truncate applies to IP addresses"),
        (
            GOOD.replace("actor.id: pseudonymize", "actor.email: pseudonymize"),
            3,
            "unknown field 'actor.email'",
        ),
        (GOOD.replace("details.*: detect", "details.*: shred"), 4, "unknown treatment 'shred'"),
        (GOOD.replace("actor.id: pseudonymize", "actor.id: drop"), 3, "cannot be dropped"),
        (GOOD.replace("actor.id: pseudonymize", "event_id: pseudonymize"), 3, "never altered"),
        (GOOD.replace("actor.id: pseudonymize", "category: redact"), 3, "not a string field"),
        (GOOD.replace("actor.id: pseudonymize", "http.status: redact"), 3, "not a string field"),
        (GOOD + "colour: red\n", 8, "colour: Extra inputs are not permitted"),
        (GOOD.replace("version: 1", "version: 2"), 1, "version: Input should be 1"),
        ("version: 1\nengine: pcre\n", 2, "unknown engine 'pcre'"),
        ("version: 1\ndefault: keep\n", 2, "default: 'keep'"),
        ("version: 1\nfields: [\n", 3, "not valid YAML"),
        ("- 1\n", 1, "is a mapping"),
    ],
)
def test_errors_carry_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_policy(text, "rules/scrub.yaml")
    assert info.value.file == "rules/scrub.yaml"
    assert info.value.line == line
    assert message in str(info.value)
    assert str(info.value).startswith(f"rules/scrub.yaml:{line}: ")


def test_missing_file_is_a_rule_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="scrub policy not found"):
        load_policy(tmp_path / "nope.yaml")
