"""deploy/prometheus/alerts.yaml and the Grafana dashboard: valid rule files, PromQL that parses,
and metrics the stages really export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
EXTERNAL = {"up", "kube_job_status_failed"}  # Prometheus itself, kube-state-metrics
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    assert set(doc) == {"groups"}
    rules = []
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        rules.extend(group["rules"])
    return rules


def _exported_metrics() -> set[str]:
    names = set()
    for path in (ROOT / "pipeline").rglob("*.py"):
        names |= set(re.findall(r'"(auditpipe_[a-z_]+)"', path.read_text()))
    return names


def test_rule_file_structure() -> None:
    rules = _rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for r in rules:
        assert set(r) <= RULE_KEYS, r["alert"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", r["alert"])
        assert r["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "runbook_url"} <= set(r["annotations"])
        if "for" in r:
            promql_parser.parse_duration(r["for"])


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_expression_parses_and_uses_exported_metrics(rule: dict[str, Any]) -> None:
    promql_parser.parse(rule["expr"])
    metrics = set(re.findall(r"\b(auditpipe_[a-z_]+|kube_[a-z_]+|up)\b", rule["expr"]))
    assert metrics, rule["alert"]
    exported = _exported_metrics()
    for m in metrics:
        base = m.removesuffix("_total")
        assert m in EXTERNAL or base in exported, f"{rule['alert']}: {m} is exported by nothing"


def test_the_issue_s_health_alerts_are_there() -> None:
    names = {r["alert"] for r in _rules()}
    assert {
        "AuditpipeConsumerLagGrowing",
        "AuditpipeDLQRate",
        "AuditpipeArchiverCheckpointStale",
        "AuditpipeVerifyFailed",
        "AuditpipeSourceQuiet",
    } <= names


def test_a_broken_expression_is_caught() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        promql_parser.parse("sum by (group (auditpipe_consumer_lag)")


def test_grafana_dashboard_queries_parse_and_use_exported_metrics() -> None:
    dash = json.loads((ROOT / "deploy" / "grafana" / "auditpipe-pipeline.json").read_text())
    exported = _exported_metrics()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        promql_parser.parse(expr)
        for m in re.findall(r"\b(auditpipe_[a-z_]+)\b", expr):
            base = re.sub(r"_(total|bucket)$", "", m)
            assert base in exported, f"{m} is exported by nothing"
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
