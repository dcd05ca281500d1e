"""Retention changes, recorded in each region and audited.

The retention policy in force is stored in the archive as a signed, locked object
``retention/<UTC time>-<sha256[:16]>.json`` (+ ``.sig``) holding the policy itself. ``record``
compares ``rules/retention.yaml`` with the latest stored policy; when they differ (or none is
stored yet) it stores the new one and emits an ``archive.retention.change`` LIFECYCLE event
naming the old and new policy hashes and the classes whose period changed. ``auditpipe retention
purge`` and ``auditpipe retention apply`` run it first, so no purge runs under an unrecorded
policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from pipeline.archive.format.keys import ALGORITHM, Signer
from pipeline.archive.format.manifest import Hex64, KeyId, Ts, _Model
from pipeline.archive.format.store import sha256_hex
from pipeline.archive.lifecycle.regions import AuditSink, Region, put_signed
from pipeline.archive.lifecycle.retention import Retention
from pipeline.events.jsonform import format_ts

POLICIES = "retention/"


class PolicyRecord(_Model):
    version: Literal[1] = 1
    kind: Literal["retention-policy"] = "retention-policy"
    created: Ts
    region: str
    policy: dict[str, Any]
    policy_sha256: Hex64
    previous_sha256: Hex64 | None
    key_id: KeyId
    algorithm: Literal["Ed25519"] = "Ed25519"
    retain_until: Ts | None = None


@dataclass(frozen=True)
class PolicyChange:
    region: str
    changed: bool
    key: str | None
    old_sha256: str | None
    new_sha256: str
    classes: str  # "security: 24 months -> 36 months, ..." or "-"


def policy_doc(retention: Retention) -> tuple[dict[str, Any], str]:
    doc = retention.policy.model_dump(mode="json")
    return doc, sha256_hex(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))


def latest(region: Region) -> PolicyRecord | None:
    keys = [k for k in region.store.list(POLICIES) if k.endswith(".json")]
    for key in reversed(keys):  # newest first (time-stamped keys)
        try:
            return PolicyRecord.model_validate_json(region.store.get(key))
        except ValidationError:
            continue
    return None


def _diff(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    before = {n: c["period"] for n, c in (old or {}).get("classes", {}).items()}
    after = {n: c["period"] for n, c in new["classes"].items()}
    parts = [
        f"{n}: {before.get(n, 'none')} -> {after.get(n, 'none')}"
        for n in sorted(set(before) | set(after))
        if before.get(n) != after.get(n)
    ]
    if old is not None and old.get("categories") != new.get("categories"):
        parts.append("category mapping changed")
    return ", ".join(parts) or "-"


def record(
    region: Region,
    retention: Retention,
    signer: Signer | None,
    now: datetime,
    *,
    audit: AuditSink | None = None,
    dry_run: bool = False,
) -> PolicyChange:
    """Store and audit the policy if it differs from the region's latest stored one."""
    doc, sha = policy_doc(retention)
    prev = latest(region)
    if prev is not None and prev.policy_sha256 == sha:
        return PolicyChange(region.name, False, None, sha, sha, "-")
    classes = _diff(prev.policy if prev else None, doc)
    if dry_run or signer is None:
        old = prev.policy_sha256 if prev else None
        return PolicyChange(region.name, True, None, old, sha, classes)
    until = retention.until(retention.metadata_class, now)
    rec = PolicyRecord(
        created=format_ts(now),
        region=region.name,
        policy=doc,
        policy_sha256=sha,
        previous_sha256=prev.policy_sha256 if prev else None,
        key_id=signer.key_id,
        algorithm=ALGORITHM,
        retain_until=format_ts(until),
    )
    stamp = rec.created.replace("-", "").replace(":", "").replace(".", "")
    key = f"{POLICIES}{stamp}-{sha[:16]}.json"
    put_signed(
        region.store, key, key.removesuffix(".json") + ".sig", rec.canonical(), signer, until
    )
    if audit is not None:
        audit(
            "archive.retention.change",
            "SUCCESS",
            {
                "region": region.name,
                "policy_sha256": sha,
                "previous_sha256": rec.previous_sha256 or "none",
                "classes": classes,
                "record": key,
            },
        )
    return PolicyChange(region.name, True, key, rec.previous_sha256, sha, classes)
