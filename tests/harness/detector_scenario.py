"""Detector scenarios for tests and benchmarks: incidents for every rule, in benign background.

An *incident* is one example a rule file carries (``auditpipe.examples``, the same sequences
``auditpipe rules test`` runs), expanded in code and made independent: its actors get ids of
their own (so incidents and background never share a group), its event, request and trace ids
are made unique, and its times move by whole hours (every window of the shipped rules divides
an hour, so window alignment, and with it the example's outcome, is kept; ``incidents`` checks
that). Examples that must not alert are incidents too: near misses that must stay quiet.

The alerts an incident must raise come from the offline engine run over that incident alone
(the oracle): per dedup key, the rule, the group and the *trigger*, the event whose processing
raised the first alert. A streaming test expects exactly these keys and measures latency from
the trigger's produce time.

Background is ``EventGenerator(benign=True)`` traffic with pseudonymous actor ids and none of
the generator's planted personal data (no client IP, session id or free-text details), so a
test topic holds nothing the sanitizer would have removed.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.detect.alerts import ts_us, us_ts
from pipeline.detect.engine import Engine
from pipeline.detect.examples import expand
from pipeline.detect.model import RuleSet
from pipeline.errors import RuleError
from pipeline.events.jsonform import parse_ts
from pipeline.produce.generator import EventGenerator

HOUR_US = 3600 * 1_000_000


@dataclass(frozen=True)
class Expected:
    """An alert (its first revision) that an incident must raise."""

    rule_id: str
    group: dict[str, str]
    trigger: str  # event_id of the event whose processing raised it


@dataclass(frozen=True)
class Incident:
    name: str  # "<rule>/<example>#<copy>"
    events: list[dict[str, Any]]
    expected: dict[str, Expected]  # by dedup key


@dataclass(frozen=True)
class Scenario:
    events: list[dict[str, Any]]  # incidents and background, in event-time order
    incidents: list[Incident] = field(default_factory=list)

    @property
    def expected(self) -> dict[str, Expected]:
        return {k: v for inc in self.incidents for k, v in inc.expected.items()}


def _pseudonym(tag: str, value: str) -> str:
    return f"ps:{tag}:{hashlib.sha256(f'{tag}|{value}'.encode()).hexdigest()[:16]}"


def oracle(rules: RuleSet, events: list[dict[str, Any]]) -> dict[str, Expected]:
    """First alert per dedup key, and its trigger, from the offline engine over ``events``."""
    engine = Engine(rules)
    expected: dict[str, Expected] = {}
    for doc in events:
        for alert in engine.process(doc):
            if alert["dedup_key"] not in expected:
                expected[alert["dedup_key"]] = Expected(
                    alert["rule_id"], alert["group"], str(doc["event_id"])
                )
    return expected


def incidents(
    rules: RuleSet, *, tag: str, copies: int = 1, max_shift_h: int = 0, seed: int = 0
) -> list[Incident]:
    """Every example of every rule file, ``copies`` times, each shifted by 0..max_shift_h hours.

    Raises ``RuleError`` if an incident no longer raises its example's number of alerts.
    """
    rng = random.Random(seed)
    out: list[Incident] = []
    for rule_file in rules.files:
        for rule_name, examples in rule_file.examples.items():
            rule_id = next(
                r.meta.rule_id for r in rules.all_rules() if r.name == rule_name and r.meta
            )
            for example, copy in itertools.product(examples, range(copies)):
                name = f"{rule_id}/{example.name}#{copy}"
                shift = rng.randint(0, max_shift_h) * HOUR_US
                events = [_adopt(doc, f"{tag}-{len(out)}", shift) for doc in expand(example)]
                expected = oracle(rules, events)
                own = sum(1 for e in expected.values() if e.rule_id == rule_id)
                if own != example.alerts:
                    raise RuleError(
                        f"incident {name!r} raised {own} alerts, its example says {example.alerts}",
                        file=rule_file.path,
                    )
                out.append(Incident(name, events, expected))
    return out


def _adopt(doc: dict[str, Any], tag: str, shift_us: int) -> dict[str, Any]:
    """The example event as the incident's own: fresh ids, own actors, shifted time."""
    doc = {**doc, "actor": {**doc["actor"], "id": _pseudonym(tag, doc["actor"]["id"])}}
    doc["event_id"] = str(uuid.uuid4())
    doc["request_id"] = str(uuid.uuid4())
    doc["trace_id"] = uuid.uuid4().hex
    doc["ts"] = us_ts(ts_us(doc["ts"]) + shift_us)
    return doc


def background(
    n: int,
    *,
    seed: int = 0,
    actors: int = 500,
    start: datetime | None = None,
    span: timedelta | None = None,
    tag: str = "bg",
) -> list[dict[str, Any]]:
    """``n`` benign generator events; with ``span``, stretched evenly over ``start + span``."""
    gen = EventGenerator(seed=seed, actors=actors, benign=True, start=start)
    events = list(itertools.islice(gen.events(), n))
    first, last = ts_us(events[0]["ts"]), ts_us(events[-1]["ts"])
    scale = (span // timedelta(microseconds=1)) / max(1, last - first) if span else 1.0
    out = []
    for doc in events:
        actor = {
            k: v for k, v in doc["actor"].items() if k not in ("ip", "session_id", "user_agent")
        }
        actor["id"] = _pseudonym(tag, actor["id"])
        ts = first + int((ts_us(doc["ts"]) - first) * scale)
        details = {k: v for k, v in doc["details"].items() if k == "format"}
        out.append({**doc, "actor": actor, "details": details, "ts": us_ts(ts)})
    return out


def build(
    rules: RuleSet,
    *,
    background_events: int,
    tag: str,
    copies: int = 1,
    max_shift_h: int = 6,
    seed: int = 0,
) -> Scenario:
    """Incidents for every example of ``rules`` mixed into benign background.

    The background covers the hour before the first trigger up to the last trigger, where the
    incidents are busiest (a near miss may reach further: one waits 40 days).
    """
    incs = incidents(rules, tag=tag, copies=copies, max_shift_h=max_shift_h, seed=seed)
    ts = {d["event_id"]: ts_us(d["ts"]) for inc in incs for d in inc.events}
    times = [ts[e.trigger] for inc in incs for e in inc.expected.values()] or list(ts.values())
    lo, hi = min(times) - HOUR_US, max(times)
    bg = background(
        background_events,
        seed=seed,
        start=parse_ts(us_ts(lo), "ts"),
        span=timedelta(microseconds=hi - lo),
        tag=f"{tag}-bg",
    )
    merged = sorted([*bg, *(d for inc in incs for d in inc.events)], key=lambda d: ts_us(d["ts"]))
    return Scenario(merged, incs)


def canary(before: str, tag: str = "canary") -> dict[str, Any]:
    """An MFA disable a minute before ``before`` (so nothing after it is late): proves a
    detector is up and alerting before a measurement starts."""
    doc = background(1, tag=tag)[0]
    doc.update(
        event_id=str(uuid.uuid4()),
        ts=us_ts(ts_us(before) - 60_000_000),
        category="AUTHN",
        action="mfa.disable",
        outcome="SUCCESS",
    )
    doc["actor"] = {**doc["actor"], "id": _pseudonym(tag, uuid.uuid4().hex)}
    return doc
