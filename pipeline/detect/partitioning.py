"""Which rules the streaming detector evaluates where events land, and which need repartitioning.

``audit.events`` is keyed by the actor, so a rule grouped by the actor (alone or with more
fields) sees all of a group's events on one partition. A rule grouped otherwise (by
``actor.ip``, a target, or not at all) needs its events brought together by its group key
first: ``split`` sets those rules apart, by group-by, each with the rules it refers to.

Known limit: an alerting correlation grouped by the actor that refers to a correlation grouped
otherwise stays local, and its nested correlation then counts per partition.
"""

from __future__ import annotations

from pipeline.detect.model import CorrelationRule, DetectionRule, RuleSet

GroupBy = tuple[str, ...]


def _closure(rules: RuleSet, names: set[str]) -> set[str]:
    refs = {c.name: c.refs for c in rules.correlations}
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(refs.get(name, ()))
    return out


def _subset(rules: RuleSet, names: set[str]) -> RuleSet:
    """The named rules, in the original order (correlations after what they refer to)."""
    return RuleSet(
        tuple(d for d in rules.detections if d.name in names),
        tuple(c for c in rules.correlations if c.name in names),
    )


def split(rules: RuleSet, key: str) -> tuple[RuleSet, dict[GroupBy, RuleSet]]:
    """(rules whose groups lie within a partition keyed by ``key``, the others by group-by)."""
    alerting: list[DetectionRule | CorrelationRule] = [
        r for r in rules.all_rules() if r.meta is not None
    ]
    local = {r.name for r in alerting if key in r.group_by}
    remote: dict[GroupBy, set[str]] = {}
    for r in alerting:
        if key not in r.group_by:
            remote.setdefault(r.group_by, set()).add(r.name)
    return _subset(rules, _closure(rules, local)), {
        group_by: _subset(rules, _closure(rules, names)) for group_by, names in remote.items()
    }


def slug(group_by: GroupBy) -> str:
    """A topic-name-safe name for a group-by (``actor.ip`` -> ``actor.ip``, none -> ``all``)."""
    text = "+".join(group_by) or "all"
    return "".join(ch if ch.isalnum() or ch in "._-+" else "_" for ch in text)
