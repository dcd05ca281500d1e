"""Each modifier and condition form, through pySigma's parser and our evaluator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.detect.engine import Engine
from tests.unit.detect.helpers import event, match_rule


def matches(tmp_path: Path, detection: str, doc: dict[str, Any]) -> bool:
    rules = match_rule(tmp_path, detection)
    return bool(rules.detections[0].predicate(doc))


CASES = [
    # (detection, event overrides, expected)
    ("  s: {action: LOGIN}\n  condition: s", {}, True),  # case-insensitive equality
    ("  s: {action|cased: LOGIN}\n  condition: s", {}, False),
    ("  s: {service|contains: SERVICE}\n  condition: s", {}, True),
    ("  s: {service|contains: billing}\n  condition: s", {}, False),
    ("  s: {service|startswith: auth-}\n  condition: s", {}, True),
    ("  s: {service|endswith: -service}\n  condition: s", {}, True),
    ("  s: {service|endswith: -api}\n  condition: s", {}, False),
    ("  s: {service: 'auth*ice'}\n  condition: s", {}, True),  # plain wildcard
    (
        "  s: {details.note|re: '^card \\d{4}'}\n  condition: s",
        {"details": {"note": "card 4111"}},
        True,
    ),
    ("  s: {details.note|re: '^CARD'}\n  condition: s", {"details": {"note": "card 4111"}}, False),
    ("  s: {details.note|re|i: '^CARD'}\n  condition: s", {"details": {"note": "card 4111"}}, True),
    ("  s: {actor.ip|cidr: 10.0.0.0/8}\n  condition: s", {"actor": {"ip": "10.2.3.4"}}, True),
    ("  s: {actor.ip|cidr: 10.0.0.0/8}\n  condition: s", {"actor": {"ip": "192.168.1.1"}}, False),
    ("  s: {actor.ip|cidr: 10.0.0.0/8}\n  condition: s", {"actor": {"ip": "not-an-ip"}}, False),
    (
        "  s: {actor.roles|all: [viewer, admin]}\n  condition: s",
        {"actor": {"roles": ["admin", "viewer"]}},
        True,
    ),
    (
        "  s: {actor.roles|all: [viewer, admin]}\n  condition: s",
        {"actor": {"roles": ["viewer"]}},
        False,
    ),
    ("  s: {actor.roles: admin}\n  condition: s", {"actor": {"roles": ["viewer", "admin"]}}, True),
    ("  s: {data.record_count|gt: 100}\n  condition: s", {"data": {"record_count": 101}}, True),
    ("  s: {data.record_count|gt: 100}\n  condition: s", {"data": {"record_count": 100}}, False),
    ("  s: {data.record_count|gte: 100}\n  condition: s", {"data": {"record_count": 100}}, True),
    ("  s: {data.record_count|lt: 100}\n  condition: s", {"data": {"record_count": 99}}, True),
    ("  s: {data.record_count|lte: 100}\n  condition: s", {"data": {"record_count": 101}}, False),
    ("  s: {data.record_count|lt: 100}\n  condition: s", {}, False),  # absent is not a number
    (
        "  s: {http.status: 403}\n  condition: s",
        {"http": {"method": "GET", "path": "/", "status": 403}},
        True,
    ),
    ("  s: {trace_id|exists: true}\n  condition: s", {"trace_id": "ab"}, True),
    ("  s: {actor.ip|exists: true}\n  condition: s", {}, False),
    ("  s: {actor.ip|exists: false}\n  condition: s", {}, True),
    ("  s: {actor.ip: null}\n  condition: s", {}, True),
    ("  s: {details.format: [csv, json]}\n  condition: s", {"details": {"format": "json"}}, True),
]


@pytest.mark.parametrize(("detection", "over", "expected"), CASES)
def test_modifiers(tmp_path: Path, detection: str, over: dict[str, Any], expected: bool) -> None:
    assert matches(tmp_path, detection, event(**over)) is expected


CONDITIONS = """  sel_login: {action: login}
  sel_export: {action: export}
  ok: {outcome: SUCCESS}
  de: {actor.country: DE}
  condition: COND
"""


@pytest.mark.parametrize(
    ("condition", "over", "expected"),
    [
        ("sel_login and ok", {}, True),
        ("sel_login and not ok", {}, False),
        ("sel_export or ok", {"outcome": "FAILURE"}, False),
        ("sel_export or (sel_login and de)", {}, True),
        ("1 of sel_*", {"action": "export"}, True),
        ("1 of sel_*", {"action": "read"}, False),
        ("all of sel_*", {}, False),
        ("all of them", {}, False),
        ("all of them", {"action": "login"}, False),
        ("1 of them and not (de or sel_export)", {}, False),
        ("not sel_export and (ok and de)", {}, True),
    ],
)
def test_conditions(tmp_path: Path, condition: str, over: dict[str, Any], expected: bool) -> None:
    assert matches(tmp_path, CONDITIONS.replace("COND", condition), event(**over)) is expected


def test_a_list_of_maps_is_or(tmp_path: Path) -> None:
    detection = (
        "  s:\n    - {action: export}\n    - {action: login, outcome: FAILURE}\n  condition: s"
    )
    assert matches(tmp_path, detection, event(action="login", outcome="FAILURE"))
    assert not matches(tmp_path, detection, event(action="login"))


def test_a_match_rule_alerts_per_event_window(tmp_path: Path) -> None:
    rules = match_rule(tmp_path, "  s: {action: login}\n  condition: s")
    alerts = Engine(rules).run([event(), event(action="read"), event(10)])
    assert len({a["dedup_key"] for a in alerts}) == 1
    assert alerts[0]["count"] == 1
