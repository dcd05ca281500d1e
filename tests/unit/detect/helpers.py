"""Build small rule sets and events for the detection tests."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.detect.examples import START, TEMPLATE, _merge
from pipeline.detect.loader import load_rules
from pipeline.detect.model import RuleSet
from pipeline.events.jsonform import format_ts

HEADER = "logsource: {product: auditpipe}\n"
EXAMPLES = """auditpipe:
  examples:
    - {name: "alerts", alerts: 1, events: [{}]}
    - {name: "quiet", alerts: 0, events: [{}]}
"""
_ids = itertools.count()


def ruleset(tmp_path: Path, text: str, name: str = "rule.yml") -> RuleSet:
    path = tmp_path / name
    path.write_text(text)
    return load_rules(path)


def match_rule(tmp_path: Path, detection: str, extra: str = "") -> RuleSet:
    """A single alerting detection rule named t.rule with the given detection block."""
    text = f"title: t\nname: t.rule\n{HEADER}detection:\n{detection}\n{extra}{EXAMPLES}"
    return ruleset(tmp_path, text)


def event(seconds: float = 0, **over: Any) -> dict[str, Any]:
    n = next(_ids)
    doc = _merge(TEMPLATE, over)
    doc.setdefault("ts", format_ts(START + timedelta(seconds=seconds)))
    doc.setdefault("event_id", f"ev-{n}")
    doc.setdefault("request_id", f"req-{n}")
    doc.setdefault("trace_id", f"{n:032x}")
    return doc
