"""Detector scenarios: incidents from every rule's examples, benign background, the oracle."""

from __future__ import annotations

import itertools
from pathlib import Path

from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.produce.generator import EventGenerator
from tests.harness import detector_scenario as scenario

RULES = load_rules(Path(__file__).resolve().parents[3] / "rules" / "detection")


def test_incidents_cover_every_rule_and_the_merged_stream_meets_the_oracle() -> None:
    sc = scenario.build(RULES, background_events=3000, tag="t", copies=2, seed=3)
    assert {e.rule_id for e in sc.expected.values()} == set(RULES.alerting_ids())
    examples = sum(len(ex) for f in RULES.files for ex in f.examples.values())
    assert len(sc.incidents) == 2 * examples
    ts = [e["ts"] for e in sc.events]
    assert ts == sorted(ts)
    assert len({e["event_id"] for e in sc.events}) == len(sc.events)
    # incidents and background share no actor, so together they raise exactly the union
    alerts = Engine(RULES).run(sc.events)
    assert {a["dedup_key"] for a in alerts} == set(sc.expected)
    triggers = {e["event_id"] for e in sc.events}
    assert all(exp.trigger in triggers for exp in sc.expected.values())


def test_benign_background_is_quiet_for_the_shipped_rules() -> None:
    events = scenario.background(50_000, seed=5)
    assert Engine(RULES).run(events) == []
    assert not any("@" in e["actor"]["id"] or "ip" in e["actor"] for e in events)


def test_benign_generator_leaves_out_what_alerts_by_itself() -> None:
    events = list(itertools.islice(EventGenerator(seed=1, benign=True).events(), 20_000))
    assert not any(e["action"] == "mfa.disable" for e in events)
    grants = [e for e in events if e["action"] == "role.grant"]
    assert grants
    assert all(e["authz"]["role"] != "admin" for e in grants)
    # the default mix keeps them (the demo shows alerts)
    default = list(itertools.islice(EventGenerator(seed=1).events(), 20_000))
    assert any(e["action"] == "mfa.disable" for e in default)
