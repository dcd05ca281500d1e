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
