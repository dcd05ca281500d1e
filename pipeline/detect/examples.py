"""Run the examples a rule file carries (``auditpipe.examples``): the rules' golden behaviour.

An example is a list of events in the JSON form, each merged over ``TEMPLATE`` (a successful
login by ``usr_000001`` from DE), so a rule's examples name only the fields that matter. Three
keys steer time and volume and are not part of the event:

* ``gap``: time since the previous event (a Sigma timespan, default ``1s``);
* ``repeat``: emit the event this many times (default 1), each with a fresh event id;
* ``every``: time between the repeats (default ``1s``).

Timestamps start at 2026-11-01T09:00:00Z unless an event sets ``ts``. Each event is validated
against the event schema. The example passes when the rule raised exactly ``alerts`` distinct
dedup keys.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.detect.config import Example, timespan_seconds
from pipeline.detect.engine import Engine
from pipeline.detect.model import RuleFile, RuleSet
from pipeline.errors import InvalidEventError, RuleError
from pipeline.events.jsonform import format_ts, from_json, parse_ts
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
STEERING = ("gap", "repeat", "every")
TEMPLATE: dict[str, Any] = {
    "service": "auth-service",
    "environment": "prod",
    "category": "AUTHN",
    "action": "login",
    "outcome": "SUCCESS",
    "actor": {"id": "usr_000001", "type": "user", "roles": ["viewer"], "country": "DE"},
    "details": {},
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def expand(example: Example) -> Iterator[dict[str, Any]]:
    """The example's events, complete and in the JSON form."""
    clock = START - timedelta(seconds=1)
    n = 0
    for spec in example.events:
        body = {k: v for k, v in spec.items() if k not in STEERING}
        clock += timedelta(seconds=timespan_seconds(str(spec.get("gap", "1s"))))
        every = timedelta(seconds=timespan_seconds(str(spec.get("every", "1s"))))
        for i in range(int(spec.get("repeat", 1))):
            n += 1
            if i:
                clock += every
            doc = _merge(TEMPLATE, body)
            if "ts" in body:
                clock = parse_ts(str(body["ts"]), "ts")
            doc["ts"] = format_ts(clock)
            doc.setdefault("event_id", str(uuid.UUID(int=n, version=4)))
            doc.setdefault("request_id", f"req-{n:06d}")
            doc.setdefault("trace_id", f"{n:032x}")
            yield doc


@dataclass(frozen=True)
class ExampleResult:
    rule_id: str
    name: str
    expected: int
    got: int

    @property
    def ok(self) -> bool:
        return self.expected == self.got


def run_file(rules: RuleSet, rule_file: RuleFile) -> list[ExampleResult]:
    """Run every example of ``rule_file`` on a fresh engine holding the file's rules."""
    schema = parsed_schema(AUDIT_EVENT)
    local = RuleSet(
        tuple(d for d in rules.detections if d.file == rule_file.path),
        tuple(c for c in rules.correlations if c.file == rule_file.path),
    )
    results = []
    for rule_name, examples in rule_file.examples.items():
        rule_id = next(
            r.meta.rule_id for r in local.all_rules() if r.name == rule_name and r.meta is not None
        )
        for example in examples:
            events = list(expand(example))
            for doc in events:
                try:
                    from_json(schema, doc)
                except InvalidEventError as exc:
                    raise RuleError(
                        f"example {example.name!r}: {exc}", file=rule_file.path
                    ) from None
            alerts = Engine(local).run(events)
            keys = {a["dedup_key"] for a in alerts if a["rule_id"] == rule_id}
            results.append(ExampleResult(rule_id, example.name, example.alerts, len(keys)))
    return results


def run_all(rules: RuleSet) -> list[ExampleResult]:
    return [r for f in rules.files for r in run_file(rules, f)]
