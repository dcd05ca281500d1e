"""Compiled rules: what the engine evaluates, built from pySigma objects by the loader."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.detect.config import Block, Example, timespan_seconds
from pipeline.detect.matcher import Predicate

SEVERITY = {
    "informational": "INFO",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "critical": "CRITICAL",
}

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


@dataclass(frozen=True, kw_only=True)
class RuleMeta:
    """What an alerting rule puts on its alerts."""

    rule_id: str
    title: str
    severity: str
    runbook: str | None
    tags: tuple[str, ...]
    update_interval_s: float | None = None
    update_factor: float | None = None


@dataclass(frozen=True, kw_only=True)
class DetectionRule:
    """A Sigma detection; alone it alerts per match, or it feeds correlations.

    With ``auditpipe.spike`` or ``auditpipe.new-value`` its matches feed that evaluator instead.
    """

    name: str
    file: Path
    predicate: Predicate
    block: Block
    meta: RuleMeta | None
    group_by: tuple[str, ...]
    window_s: int


@dataclass(frozen=True, kw_only=True)
class CorrelationRule:
    """A Sigma correlation (event_count, value_count, temporal, temporal_ordered)."""

    name: str
    file: Path
    kind: str
    refs: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan_s: int
    op: str
    threshold: float
    field: str | None
    meta: RuleMeta | None

    def test(self, value: float) -> bool:
        return COMPARE[self.op](value, self.threshold)


@dataclass(frozen=True)
class RuleFile:
    path: Path
    examples: dict[str, tuple[Example, ...]]


@dataclass(frozen=True)
class RuleSet:
    """Everything loaded; correlations come after the rules they refer to."""

    detections: tuple[DetectionRule, ...]
    correlations: tuple[CorrelationRule, ...]
    files: tuple[RuleFile, ...] = field(default_factory=tuple)

    def all_rules(self) -> list[DetectionRule | CorrelationRule]:
        return [*self.detections, *self.correlations]

    def alerting_ids(self) -> list[str]:
        return [r.meta.rule_id for r in self.all_rules() if r.meta is not None]

    def retention_s(self, name: str) -> int:
        """How long per-group state of rule ``name`` is worth keeping after its last use."""
        for c in self.correlations:
            if c.name == name:
                return c.timespan_s
        for d in self.detections:
            if d.name == name:
                b = d.block
                if b.spike is not None:
                    return timespan_seconds(b.spike.timespan) * (b.spike.baseline + 1)
                if b.new_value is not None:
                    return max(timespan_seconds(b.new_value.history), d.window_s)
                return d.window_s
        return 0
