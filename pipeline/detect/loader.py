"""Load and lint Sigma rule files: pySigma parses, we compile and check, errors say where.

A rule file is one YAML stream (``rules/detection/*.yml``): one or more Sigma documents, the
correlations after or before the detections they name, all in the same file. Every problem is a
``RuleError`` with the file and line: YAML syntax, pySigma's own errors (unknown modifier, bad
condition, bad timespan), constructs this evaluator does not implement, fields that are not in
the event schema, and an invalid ``auditpipe:`` block.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.modifiers import reverse_modifier_mapping
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from pipeline.detect.config import Block, timespan_seconds
from pipeline.detect.fields import is_known_field, schema_fields
from pipeline.detect.matcher import (
    SUPPORTED_MODIFIERS,
    Predicate,
    UnsupportedError,
    compile_condition,
    condition_fields,
)
from pipeline.detect.model import (
    SEVERITY,
    CorrelationRule,
    DetectionRule,
    RuleFile,
    RuleMeta,
    RuleSet,
)
from pipeline.errors import RuleError
from pipeline.yamlfiles import LineIndex, index_documents, read_text

SUPPORTED_CORRELATIONS = {
    SigmaCorrelationType.EVENT_COUNT,
    SigmaCorrelationType.VALUE_COUNT,
    SigmaCorrelationType.TEMPORAL,
    SigmaCorrelationType.TEMPORAL_ORDERED,
}
_QUOTED = re.compile(r"'([^']+)'")
# pySigma error class -> where in the document it points
_ERROR_PATHS: dict[str, tuple[str, ...]] = {
    "SigmaConditionError": ("detection", "condition"),
    "SigmaDetectionError": ("detection",),
    "SigmaLogsourceError": ("logsource",),
    "SigmaIdentifierError": ("id",),
    "SigmaLevelError": ("level",),
    "SigmaStatusError": ("status",),
    "SigmaTitleError": ("title",),
    "SigmaDateError": ("date",),
    "SigmaTimespanError": ("correlation", "timespan"),
    "SigmaCorrelationTypeError": ("correlation", "type"),
    "SigmaCorrelationConditionError": ("correlation", "condition"),
}


def _sigma_line(exc: SigmaError, where: LineIndex) -> int:
    name = type(exc).__name__
    if name in (
        "SigmaModifierError",
        "SigmaValueError",
        "SigmaTypeError",
        "SigmaRegularExpressionError",
    ):
        quoted = _QUOTED.search(str(exc))
        if quoted is not None:
            token = quoted.group(1)
            hit = (
                where.find_key(("detection",), f"|{token}")
                or where.find_key(("detection",), token)
                or where.find_value(("detection",), token)
            )
            if hit is not None:
                return hit
        return where.line("detection")
    return where.line(*_ERROR_PATHS.get(name, ()))


class _FileLoader:
    def __init__(self, path: Path, known: tuple[frozenset[str], frozenset[str]]) -> None:
        self.path = path
        self.known = known
        self.errors: list[RuleError] = []

    def error(self, message: str, line: int | None) -> None:
        self.errors.append(RuleError(message, file=self.path, line=line))

    def documents(self) -> list[tuple[dict[str, Any], LineIndex]]:
        try:
            text = read_text(self.path, "rule file")  # names the file: not UTF-8, missing, ...
            index = index_documents(text)  # the strict checks before the document is built
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except RuleError as exc:
            self.errors.append(exc)
            return []
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.error(f"invalid YAML: {exc}", mark.line + 1 if mark is not None else None)
            return []
        except OSError as exc:
            self.error(f"cannot read: {exc}", None)
            return []
        out = []
        for doc, where in zip(docs, index, strict=True):
            if not isinstance(doc, dict):
                self.error("a rule document must be a mapping", where.start)
                continue
            out.append((doc, where))
        return out

    def check_field(self, name: str, where: LineIndex, *path: str | int) -> None:
        if not is_known_field(name, self.known):
            line = where.find_key(path[:1], name) if path else None
            self.error(
                f"unknown field {name!r} (not in the event schema)", line or where.line(*path)
            )

    def block(self, doc: dict[str, Any], where: LineIndex) -> Block | None:
        try:
            return Block.model_validate(doc.get("auditpipe") or {})
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                self.error(
                    f"auditpipe.{'.'.join(map(str, loc))}: {err['msg']}",
                    where.line("auditpipe", *loc),
                )
            return None

    def detection_items(self, rule: SigmaRule, where: LineIndex) -> bool:
        ok = True

        def visit(item: SigmaDetectionItem | SigmaDetection) -> None:
            nonlocal ok
            if isinstance(item, SigmaDetection):
                for sub in item.detection_items:
                    visit(sub)
                return
            for mod in item.modifiers:
                mod_id = reverse_modifier_mapping.get(mod.__name__, mod.__name__)
                if mod_id not in SUPPORTED_MODIFIERS:
                    line = where.find_key(("detection",), f"|{mod_id}")
                    self.error(
                        f"modifier {mod_id!r} is not supported", line or where.line("detection")
                    )
                    ok = False
            if item.field is not None:
                self.check_field(item.field, where, "detection")

        for detection in rule.detection.detections.values():
            visit(detection)
        return ok

    def predicate(self, rule: SigmaRule, where: LineIndex) -> Predicate | None:
        preds: list[Predicate] = []
        for cond in rule.detection.parsed_condition:
            try:
                tree = cond.parsed
                preds.append(compile_condition(tree))
            except SigmaError as exc:
                self.error(f"bad condition: {exc}", where.line("detection", "condition"))
                return None
            except (UnsupportedError, re.error) as exc:
                self.error(str(exc), where.line("detection"))
                return None
            for name in condition_fields(tree):
                self.check_field(name, where, "detection")
        if len(preds) == 1:
            return preds[0]
        return lambda doc: any(p(doc) for p in preds)

    def meta(
        self, rule: SigmaRule | SigmaCorrelationRule, block: Block, where: LineIndex
    ) -> RuleMeta | None:
        if not rule.name:
            self.error(
                "an alerting rule needs a 'name' (its rule id, e.g. auth.mfa_disabled)", where.start
            )
            return None
        alerts = [e.alerts for e in block.examples]
        if not any(alerts) or 0 not in alerts:
            self.error(
                "an alerting rule needs auditpipe.examples: one that alerts and one that does not",
                where.line("auditpipe", "examples"),
            )
        interval = block.alerting.update_interval
        return RuleMeta(
            rule_id=rule.name,
            title=rule.title,
            severity=SEVERITY[str(rule.level)] if rule.level is not None else "MEDIUM",
            runbook=block.runbook,
            tags=tuple(str(t) for t in rule.tags),
            update_interval_s=None if interval is None else timespan_seconds(interval),
            update_factor=block.alerting.update_factor,
        )

    def correlation(
        self, rule: SigmaCorrelationRule, block: Block, where: LineIndex, output: bool
    ) -> CorrelationRule | None:
        if rule.type not in SUPPORTED_CORRELATIONS:
            self.error(
                f"correlation type {rule.type} is not supported", where.line("correlation", "type")
            )
            return None
        if len(rule.aliases) or not isinstance(rule.condition, SigmaCorrelationCondition):
            self.error(
                "correlation aliases and extended conditions are not supported",
                where.line("correlation"),
            )
            return None
        if block.kind != "match" or block.group_by:
            self.error(
                "spike, new-value and group-by belong on a detection rule", where.line("auditpipe")
            )
        refs = tuple(r.reference for r in rule.rules or [])
        cond = rule.condition
        if rule.type == SigmaCorrelationType.TEMPORAL_ORDERED and not (
            cond.op.name == "GTE" and cond.count == len(refs)
        ):
            self.error(
                "temporal_ordered supports only the default condition (all rules, in order)",
                where.line("correlation", "condition"),
            )
        for i, name in enumerate(rule.group_by or []):
            self.check_field(name, where, "correlation", "group-by", i)
        field = cond.fieldref if isinstance(cond.fieldref, str) else None
        if rule.type == SigmaCorrelationType.VALUE_COUNT and field is not None:
            self.check_field(field, where, "correlation", "condition", "field")
        return CorrelationRule(
            name=rule.name or f"{self.path.stem}#{where.start}",
            file=self.path,
            kind=str(rule.type),
            refs=refs,
            group_by=tuple(rule.group_by or []),
            timespan_s=rule.timespan.seconds,
            op=cond.op.name.lower(),
            threshold=float(cond.count),
            field=field,
            meta=self.meta(rule, block, where) if output else None,
        )

    def detection(
        self, rule: SigmaRule, block: Block, where: LineIndex, output: bool
    ) -> DetectionRule | None:
        ok = self.detection_items(rule, where)
        predicate = self.predicate(rule, where)
        group_by = block.group_by
        if block.spike is not None:
            group_by = block.spike.group_by
            for m in block.spike.measures:
                if m.of != "count":
                    self.check_field(m.of, where, "auditpipe")
        if block.new_value is not None:
            group_by = block.new_value.group_by
            self.check_field(block.new_value.field, where, "auditpipe")
        for name in group_by:
            self.check_field(name, where, "auditpipe")
        if predicate is None or not ok:
            return None
        return DetectionRule(
            name=rule.name or f"{self.path.stem}#{where.start}",
            file=self.path,
            predicate=predicate,
            block=block,
            meta=self.meta(rule, block, where) if output else None,
            group_by=tuple(group_by),
            window_s=timespan_seconds(block.window),
        )

    def load(self) -> RuleSet:
        docs = self.documents()
        parsed: list[tuple[SigmaRule | SigmaCorrelationRule, Block, LineIndex]] = []
        source = SigmaRuleLocation(self.path)
        for doc, where in docs:
            block = self.block(doc, where)
            try:
                collection = SigmaCollection.from_dicts(
                    [doc], collect_errors=True, source=source, resolve_references=False
                )
            except SigmaError as exc:
                self.error(str(exc), _sigma_line(exc, where))
                continue
            for problem in collection.errors:
                self.error(str(problem), _sigma_line(problem, where))
            if collection.errors or block is None:
                continue
            parsed.extend((rule, block, where) for rule in collection.rules)
        names = [r.name for r, _, _ in parsed if r.name]
        for name in {n for n in names if names.count(n) > 1}:
            self.error(f"rule name {name!r} is used twice", None)
        lines = {r.name: w for r, _, w in parsed if r.name}
        for rule, _, where in parsed:
            if isinstance(rule, SigmaCorrelationRule):
                for ref in rule.rules or []:
                    if ref.reference not in lines:
                        self.error(
                            f"correlation names unknown rule {ref.reference!r} "
                            "(rules must be in the same file)",
                            where.line("correlation", "rules"),
                        )
        if self.errors:
            return RuleSet((), ())
        whole = SigmaCollection([r for r, _, _ in parsed])  # resolves references, orders them
        output = {id(r) for r in whole.get_output_rules()}
        blocks = {id(r): (b, w) for r, b, w in parsed}
        detections: list[DetectionRule] = []
        correlations: list[CorrelationRule] = []
        examples = {}
        for rule in whole.rules:
            block, where = blocks[id(rule)]
            is_output = id(rule) in output
            if isinstance(rule, SigmaCorrelationRule):
                corr = self.correlation(rule, block, where, is_output)
                if corr is not None:
                    correlations.append(corr)
            else:
                det = self.detection(rule, block, where, is_output)
                if det is not None:
                    detections.append(det)
            if is_output and rule.name:
                examples[rule.name] = tuple(block.examples)
        return RuleSet(tuple(detections), tuple(correlations), (RuleFile(self.path, examples),))


def rule_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])


def lint(paths: list[Path]) -> tuple[RuleSet, list[RuleError]]:
    """Load every file, collecting all errors (an empty list means the rules are good)."""
    known = schema_fields()
    errors: list[RuleError] = []
    sets: list[RuleSet] = []
    for path in paths:
        loader = _FileLoader(path, known)
        ruleset = loader.load()
        errors.extend(loader.errors)
        sets.append(ruleset)
    merged = RuleSet(
        tuple(d for s in sets for d in s.detections),
        tuple(c for s in sets for c in s.correlations),
        tuple(f for s in sets for f in s.files),
    )
    seen: dict[str, Path] = {}
    for rule in merged.all_rules():
        if rule.name in seen and seen[rule.name] != rule.file:
            errors.append(
                RuleError(
                    f"rule name {rule.name!r} is also used in {seen[rule.name]}", file=rule.file
                )
            )
        seen.setdefault(rule.name, rule.file)
    return merged, errors


def load_rules(path: Path) -> RuleSet:
    """Load a rule file or a directory of them; raise the first RuleError."""
    paths = rule_files(path) if path.is_dir() else [path]
    if not paths:
        raise RuleError("no rule files (*.yml) found", file=path)
    ruleset, errors = lint(paths)
    if errors:
        raise errors[0]
    return ruleset
