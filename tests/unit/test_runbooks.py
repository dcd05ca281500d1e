"""Every runbook link resolves to a file in the repo: the detection rules' and the health
alerts' (deploy/prometheus/alerts.yaml). Each runbook says what, triage, contain, close."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.sanitizer.skew import RUNBOOK

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ["## What it means", "## Triage", "## Contain", "## Close"]


def _rule_docs() -> list[tuple[str, dict[str, object]]]:
    docs = []
    for path in sorted((ROOT / "rules" / "detection").glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def _alerts() -> list[dict[str, object]]:
    doc = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


RULE_LINKS = [
    (f"{name}:{doc['name']}", str(doc["auditpipe"]["runbook"]))  # type: ignore[index]
    for name, doc in _rule_docs()
    if isinstance(doc.get("auditpipe"), dict) and "runbook" in doc["auditpipe"]  # type: ignore[operator]
]
SYSTEM_LINKS = [("system.clock_skew", RUNBOOK)]  # alerts the stages raise themselves
ALERT_LINKS = [
    (str(a["alert"]), str(a["annotations"]["runbook_url"]))  # type: ignore[index]
    for a in _alerts()
]


def test_every_alerting_rule_file_has_a_runbook() -> None:
    files = {p.name for p in (ROOT / "rules" / "detection").glob("*.yml")}
    assert {link[0].split(":")[0] for link in RULE_LINKS} == files


@pytest.mark.parametrize(("what", "link"), RULE_LINKS + ALERT_LINKS + SYSTEM_LINKS)
def test_runbook_link_resolves_to_a_runbook_file(what: str, link: str) -> None:
    assert not link.startswith(("http://", "https://")), f"{what}: {link} is not in the repo"
    path = ROOT / link
    assert path.is_file(), f"{what}: {link} does not exist"
    assert path.is_relative_to(ROOT / "docs" / "runbooks")
    text = path.read_text()
    for section in SECTIONS:
        assert section in text, f"{link} lacks {section!r}"


def test_no_orphan_runbooks() -> None:
    linked = {ROOT / link for _, link in RULE_LINKS + ALERT_LINKS + SYSTEM_LINKS}
    assert set((ROOT / "docs" / "runbooks").rglob("*.md")) <= linked
