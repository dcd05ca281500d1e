"""The scrub policy: ``rules/scrub.yaml`` parsed into pydantic models and compiled once.

Fails closed: an unknown key, detector, treatment, engine or selector (a path that is not in
the event schema) is a ``RuleError`` naming the file and line. Detectors the policy does not
list still run, with ``redact``: a policy can choose treatments, never switch detection off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import RuleError
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.scrub.detectors import DETECTORS
from pipeline.scrub.engines import ENGINES
from pipeline.scrub.fields import OWNED, PROTECTED, Leaf, schema_leaves
from pipeline.scrub.treatments import FIELD_TREATMENTS, FINDING_TREATMENTS
from pipeline.yamlfiles import LineIndex, index_documents, read_text

#: the C parser when present (the document was already checked by ``index_documents``)
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def default_policy_path() -> Path:
    return Path(__file__).resolve().parents[2] / "rules" / "scrub.yaml"


class PolicyFile(BaseModel):
    """The YAML document as written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    engine: str = "auto"
    default: str = "detect"
    fields: dict[str, str] = {}
    findings: dict[str, str] = {}


@dataclass(frozen=True)
class FieldRule:
    """One selected leaf and its treatment; map leaves carry per-key overrides."""

    selector: str
    segments: tuple[str, ...]
    treatment: str
    nullable: bool
    container: str
    overrides: Mapping[str, str]


@dataclass(frozen=True)
class ScrubPolicy:
    """The compiled policy: what the scrubber runs."""

    source: str
    engine: str
    rules: tuple[FieldRule, ...]
    findings: Mapping[str, str]  # detector name -> treatment (every detector present)


class _Locator:
    def __init__(self, source: str, index: LineIndex | None) -> None:
        self.source = source
        self.index = index

    def error(self, message: str, *path: str | int) -> RuleError:
        line = self.index.line(*path) if self.index is not None else None
        return RuleError(message, file=self.source, line=line)


def load_policy(
    path: Path | str | None = None, schema: dict[str, Any] | None = None
) -> ScrubPolicy:
    """Read, validate and compile a policy file (default: ``rules/scrub.yaml``)."""
    p = Path(path) if path is not None else default_policy_path()
    # missing, a directory, unreadable or not UTF-8: a RuleError naming the file
    return parse_policy(read_text(p, "scrub policy"), str(p), schema)


def parse_policy(text: str, source: str, schema: dict[str, Any] | None = None) -> ScrubPolicy:
    try:
        # the strict checks (duplicate keys, aliases, depth; libyaml) before anything builds
        # the document, then the document itself under the same rules
        indexes = index_documents(text)
        doc = yaml.load(text, Loader=_LOADER) if indexes else None  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or exc
        raise RuleError(f"not valid YAML: {problem}", file=source, line=line) from None
    loc = _Locator(source, indexes[0] if indexes else None)
    if not isinstance(doc, dict):
        raise loc.error("a scrub policy is a mapping with version, fields and findings")
    try:
        model = PolicyFile.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise loc.error(f"{where}: {first['msg']}", *first["loc"]) from None
    return compile_policy(model, loc, schema or parsed_schema(AUDIT_EVENT))


def _leaf_for(selector: str, leaves: Mapping[str, Leaf]) -> tuple[Leaf, str | None] | None:
    """The leaf a selector names, and the map key for ``map.<key>`` selectors."""
    if selector in leaves:
        return leaves[selector], None
    head, _, key = selector.rpartition(".")
    leaf = leaves.get(f"{head}.*")
    if leaf is not None and key and key != "*":
        return leaf, key
    return None


def compile_policy(model: PolicyFile, loc: _Locator, schema: dict[str, Any]) -> ScrubPolicy:
    if model.engine not in ENGINES:
        raise loc.error(f"unknown engine {model.engine!r} (known: {', '.join(ENGINES)})", "engine")
    _check_field_treatment(model.default, loc, "default")
    if model.default in ("keep", "drop"):
        raise loc.error(
            f"default: {model.default!r} would let unknown fields through or lose "
            "them; use detect or redact",
            "default",
        )
    findings: dict[str, str] = dict.fromkeys(DETECTORS, "redact")
    for name, treatment in model.findings.items():
        if name not in DETECTORS:
            raise loc.error(
                f"unknown detector {name!r} (known: {', '.join(DETECTORS)})", "findings", name
            )
        if treatment not in FINDING_TREATMENTS:
            raise loc.error(
                f"unknown treatment {treatment!r} for detector {name} "
                f"(known: {', '.join(FINDING_TREATMENTS)})",
                "findings",
                name,
            )
        if treatment == "truncate" and not DETECTORS[name].ip:
            raise loc.error(f"truncate applies to IP addresses, not {name}", "findings", name)
        findings[name] = treatment

    leaves = schema_leaves(schema)
    chosen: dict[str, str] = {}
    overrides: dict[str, dict[str, str]] = {}
    for selector, treatment in model.fields.items():
        found = _leaf_for(selector, leaves)
        if found is None:
            raise loc.error(
                f"unknown field {selector!r}: not a path of the event schema", "fields", selector
            )
        leaf, key = found
        _check_field_treatment(treatment, loc, "fields", selector)
        if leaf.kind != "string" and treatment != "keep":
            raise loc.error(
                f"{selector} is not a string field; only keep applies", "fields", selector
            )
        if (leaf.selector in PROTECTED or leaf.selector in OWNED) and treatment != "keep":
            raise loc.error(f"{selector} is never altered by the scrubber", "fields", selector)
        if treatment == "drop" and leaf.container == "scalar" and not leaf.nullable:
            raise loc.error(
                f"{selector} is required and cannot be dropped; use redact or pseudonymize",
                "fields",
                selector,
            )
        if key is None:
            chosen[leaf.selector] = treatment
        else:
            overrides.setdefault(leaf.selector, {})[key] = treatment

    rules = []
    for sel, leaf in leaves.items():
        if leaf.kind != "string" or sel in OWNED:
            continue
        default = "keep" if sel in PROTECTED else model.default
        rules.append(
            FieldRule(
                selector=sel,
                segments=leaf.segments,
                treatment=chosen.get(sel, default),
                nullable=leaf.nullable,
                container=leaf.container,
                overrides=overrides.get(sel, {}),
            )
        )
    return ScrubPolicy(loc.source, model.engine, tuple(rules), findings)


def _check_field_treatment(treatment: str, loc: _Locator, *path: str) -> None:
    if treatment not in FIELD_TREATMENTS:
        raise loc.error(
            f"unknown treatment {treatment!r} (known: {', '.join(FIELD_TREATMENTS)})", *path
        )
