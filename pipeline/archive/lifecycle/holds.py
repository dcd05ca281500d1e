"""``auditpipe legal-hold set|clear``: S3 Object Lock legal holds on archive objects, per case.

A legal hold is only ON or OFF per object version; which *case* holds it is recorded by a signed,
locked marker per action and region, ``holds/<case>/<UTC time>-<set|clear>.json`` (+ ``.sig``),
naming the case, the selection (a key prefix, or a time range of events), how many objects and
versions it touched and the SHA-256 of the sorted key list; the action is also a LIFECYCLE audit
event. Several cases may hold the same object: ``clear`` of one case leaves ON every object that
another case, still set (its latest marker says ``set``), selects.

A time range selects every batch whose events overlap it (with its manifest and signature) and
the checkpoints written from the day the first of them was archived to the day after the last
(the checkpoints that name them). Retention purge skips held objects and everything after them
in their chain.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import orjson
from pydantic import ValidationError, model_validator

from pipeline.archive.format import layout
from pipeline.archive.format.chain import get_or_none
from pipeline.archive.format.keys import ALGORITHM, Keyring, Signer
from pipeline.archive.format.manifest import Hex64, KeyId, Manifest, Offset, Ts, _Model
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.archive.lifecycle.regions import AuditSink, Region, put_signed, topics
from pipeline.errors import ConfigError, PipelineError
from pipeline.events.jsonform import format_ts, parse_ts

HOLDS = "holds/"
CASE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
Action = Literal["set", "clear"]


class Selector(_Model):
    """Either a key prefix or an event-time range."""

    prefix: str | None = None
    start: Ts | None = None
    end: Ts | None = None

    @model_validator(mode="after")
    def _one(self) -> Selector:
        has_range = self.start is not None and self.end is not None
        partial = (self.start is None) != (self.end is None)
        if partial or (self.prefix is not None) == has_range:
            raise ValueError("give either a prefix or both ends of a time range")
        if self.start and self.end and self.start > self.end:
            raise ValueError("the time range ends before it starts")
        return self

    def describe(self) -> str:
        return f"prefix {self.prefix}" if self.prefix is not None else f"{self.start}..{self.end}"


class HoldMarker(_Model):
    version: Literal[1] = 1
    kind: Literal["legal-hold"] = "legal-hold"
    case: str
    action: Action
    selector: Selector
    region: str
    created: Ts
    objects: Offset
    versions: Offset
    keys_sha256: Hex64
    key_id: KeyId
    algorithm: Literal["Ed25519"] = "Ed25519"
    retain_until: Ts | None = None


@dataclass
class HoldResult:
    region: str
    case: str
    action: Action
    objects: int = 0
    versions: int = 0
    kept_for_other_cases: int = 0
    marker_key: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def check_case(case: str) -> str:
    if not CASE_RE.match(case):
        raise ConfigError(f"case id {case!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return case


def _overlaps(m: Manifest, start: datetime, end: datetime) -> bool:
    return parse_ts(m.max_ts, "max_ts") >= start and parse_ts(m.min_ts, "min_ts") <= end


def select(store: Store, selector: Selector) -> tuple[list[str], list[str]]:
    """(the selected keys, the listing prefixes that cover them)."""
    if selector.prefix is not None:
        return sorted(store.list(selector.prefix)), [selector.prefix]
    assert selector.start is not None
    assert selector.end is not None
    start, end = parse_ts(selector.start, "from"), parse_ts(selector.end, "to")
    keys: set[str] = set()
    prefixes: list[str] = []
    lo, hi = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    for topic in topics(store):
        written: list[date] = []  # when the selected batches were archived
        for prefix in layout.event_prefixes(topic, lo - timedelta(days=1), hi):
            prefixes.append(prefix)
            for key in store.list(prefix):
                if not key.endswith(layout.MANIFEST_SUFFIX):
                    continue
                try:
                    m = Manifest.model_validate_json(store.get(key))
                except ValidationError:
                    continue
                if _overlaps(m, start, end):
                    okey = layout.object_key_of_manifest(key)
                    keys |= {okey, key, layout.manifest_sig_key(okey)}
                    written.append(parse_ts(m.created, "created").date())
        if not written:
            continue
        # the checkpoints written from the first selected batch's day to the day after the last
        for prefix in layout.checkpoint_prefixes(
            topic, min(written), max(written) + timedelta(days=1)
        ):
            prefixes.append(prefix)
            keys.update(store.list(prefix))
    return sorted(keys), prefixes


def markers(store: Store, case: str | None = None) -> list[tuple[str, HoldMarker]]:
    """Every hold marker (of ``case``), oldest first per case."""
    out: list[tuple[str, HoldMarker]] = []
    for key in store.list(f"{HOLDS}{case}/" if case else HOLDS):
        if key.endswith(".json"):
            try:
                out.append((key, HoldMarker.model_validate_json(store.get(key))))
            except ValidationError:
                continue
    return out


def active_cases(store: Store) -> dict[str, Selector]:
    """Cases whose latest marker is ``set`` (the selector they hold)."""
    latest: dict[str, HoldMarker] = {}
    for _key, marker in markers(store):
        latest[marker.case] = marker  # keys sort by case, then time
    return {c: m.selector for c, m in latest.items() if m.action == "set"}


@dataclass(frozen=True)
class CaseStatus:
    key: str  # the case's latest marker
    marker: HoldMarker
    actions: int  # markers of the case in this region
    signature: str  # "ok", "not checked", or why it fails


def case_status(store: Store, keyring: Keyring | None = None) -> list[CaseStatus]:
    """Each case's latest marker, its signature checked against ``keyring`` when given."""
    by_case: dict[str, list[tuple[str, HoldMarker]]] = {}
    for key, marker in markers(store):
        by_case.setdefault(marker.case, []).append((key, marker))
    out = []
    for case in sorted(by_case):
        key, marker = by_case[case][-1]
        signature = "not checked"
        if keyring is not None:
            sig = get_or_none(store, key.removesuffix(".json") + ".sig")
            reason = "signature missing" if sig is None else None
            if sig is not None:
                reason = keyring.verify(marker.key_id, store.get(key), sig)
            signature = reason or "ok"
        out.append(CaseStatus(key, marker, len(by_case[case]), signature))
    return out


def _write_marker(
    region: Region, marker: HoldMarker, signer: Signer, retain_until: datetime | None
) -> str:
    stamp = marker.created.replace("-", "").replace(":", "").replace(".", "")
    key = f"{HOLDS}{marker.case}/{stamp}-{marker.action}.json"
    sig_key = key.removesuffix(".json") + ".sig"
    put_signed(region.store, key, sig_key, marker.canonical(), signer, retain_until)
    return key


def apply_hold(
    region: Region,
    case: str,
    selector: Selector,
    action: Action,
    signer: Signer,
    now: datetime,
    *,
    marker_retain_until: datetime | None,
    audit: AuditSink | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HoldResult:
    """Set or clear ``case``'s legal hold on every version of the selected objects."""
    check_case(case)
    result = HoldResult(region.name, case, action)
    try:
        keys, prefixes = select(region.store, selector)
        if action == "clear":
            keep: set[str] = set()
            for other, sel in active_cases(region.store).items():
                if other != case:
                    keep.update(select(region.store, sel)[0])
            result.kept_for_other_cases = sum(k in keep for k in keys)
            keys = [k for k in keys if k not in keep]
        wanted = set(keys)
        done_keys: set[str] = set()
        for prefix in prefixes:
            for v in region.bucket.versions(prefix):
                if v.delete_marker or v.key not in wanted:
                    continue
                region.bucket.set_legal_hold(v, action == "set")
                result.versions += 1
                if v.key not in done_keys:
                    done_keys.add(v.key)
                    if progress is not None:
                        progress(len(done_keys), len(wanted))
        result.objects = len(done_keys)
        marker = HoldMarker(
            case=case,
            action=action,
            selector=selector,
            region=region.name,
            created=format_ts(now),
            objects=result.objects,
            versions=result.versions,
            keys_sha256=sha256_hex(orjson.dumps(sorted(done_keys))),
            key_id=signer.key_id,
            algorithm=ALGORITHM,
            retain_until=format_ts(marker_retain_until) if marker_retain_until else None,
        )
        result.marker_key = _write_marker(region, marker, signer, marker_retain_until)
    except PipelineError as exc:
        result.failures.append(str(exc))
    if audit is not None:
        audit(
            f"archive.legal_hold.{action}",
            "SUCCESS" if result.ok else "ERROR",
            {
                "case": case,
                "region": region.name,
                "selection": selector.describe(),
                "objects": str(result.objects),
                "versions": str(result.versions),
                "kept_for_other_cases": str(result.kept_for_other_cases),
                "marker": result.marker_key or "",
                "failures": "; ".join(result.failures)[:1000],
            },
        )
    return result
