"""One test per shipped rule file: its examples are its golden behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.detect.examples import run_file
from pipeline.detect.loader import load_rules, rule_files

RULES = Path(__file__).resolve().parents[3] / "rules" / "detection"
SHIPPED = {
    "auth.mfa_disabled",
    "authz.denied_spike",
    "data.export_volume_jump",
    "crypto.decrypt_spike",
    "auth.new_country_login",
    "admin.role_grant",
    "admin.break_glass",
    "auth.bruteforce_success",
}


def test_the_shipped_rules_are_all_there() -> None:
    ruleset = load_rules(RULES)
    assert set(ruleset.alerting_ids()) == SHIPPED
    for rule in ruleset.all_rules():
        if rule.meta is not None:
            assert rule.meta.runbook == f"docs/runbooks/detection/{rule.meta.rule_id}.md"
            assert any(t.startswith("attack.t") for t in rule.meta.tags)


@pytest.mark.parametrize("path", rule_files(RULES), ids=lambda p: p.stem)
def test_rule_examples(path: Path) -> None:
    ruleset = load_rules(path)
    results = run_file(ruleset, ruleset.files[0])
    assert results, "a rule file without examples"
    assert {r.expected > 0 for r in results} == {True, False}
    failed = [r for r in results if not r.ok]
    assert failed == []
