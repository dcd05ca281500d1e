"""Inhibition: an active source alert mutes matching target alerts with equal labels.

As in Alertmanager: a target is muted while some *other* active alert matches the rule's
source matchers and has the same value for every ``equal`` label (missing counts as empty on
both sides). Silenced sources still inhibit. A typical rule lets a CRITICAL alert mute the
warnings of the same rule and group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.route.config import InhibitRule
from pipeline.route.matchers import label_text, matches_all

Alert = Mapping[str, Any]


def _equal(rule: InhibitRule, source: Alert, target: Alert) -> bool:
    return all(label_text(source, n) == label_text(target, n) for n in rule.equal)


def inhibited_by(
    rules: Sequence[InhibitRule], target: Alert, active: Iterable[Alert]
) -> InhibitRule | None:
    """The first rule under which some active alert inhibits ``target``, if any."""
    candidates = [r for r in rules if matches_all(r.target_matchers, target)]
    if not candidates:
        return None
    sources = [a for a in active if a.get("dedup_key") != target.get("dedup_key")]
    for rule in candidates:
        for source in sources:
            if matches_all(rule.source_matchers, source) and _equal(rule, source, target):
                return rule
    return None


class InhibitIndex:
    """:func:`inhibited_by` for many targets against one set of active alerts, in O(rules)
    per target instead of O(rules x alerts): the sources of each rule are indexed once by
    their ``equal`` label values."""

    def __init__(self, rules: Sequence[InhibitRule], active: Iterable[Alert]) -> None:
        self.rules = list(rules)
        self._index: list[dict[tuple[str, ...], set[str]]] = [{} for _ in self.rules]
        for source in active:
            for i, rule in enumerate(self.rules):
                if matches_all(rule.source_matchers, source):
                    values = tuple(label_text(source, n) for n in rule.equal)
                    self._index[i].setdefault(values, set()).add(str(source.get("dedup_key")))

    def inhibited_by(self, target: Alert) -> InhibitRule | None:
        own = str(target.get("dedup_key"))
        for i, rule in enumerate(self.rules):
            if not matches_all(rule.target_matchers, target):
                continue
            keys = self._index[i].get(tuple(label_text(target, n) for n in rule.equal))
            if keys and (len(keys) > 1 or own not in keys):
                return rule
        return None
