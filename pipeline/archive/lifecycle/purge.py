"""``auditpipe retention purge``: delete what Object Lock no longer protects, provably.

Per region and topic:

1. **Plan.** Per partition, the longest *prefix* of the manifest chain whose batches are all past
   their retain-until (the manifest's and every stored version's COMPLIANCE date) and carry no
   legal hold, never the partition's latest manifest nor one the latest checkpoint names (the
   chain heads the archiver resumes from). A batch that is still locked or held ends its
   partition's prefix: later batches wait for it, so what is left is always one unbroken chain
   per partition. The same for the
   checkpoint chain (never the latest checkpoint). Spent flush intents (``chain``) of purged
   batches go with them once their own lock allows.
2. **Record.** A signed purge record naming every manifest and checkpoint it removes (see
   ``format.purge_records``) is written first, locked for the metadata class.
3. **Delete** every version of each batch, signature and manifest (manifest last) and of each
   checkpoint, checking each version's legal hold right before (the local S3 server does not, see
   ``locks``).
4. **Check** that no version or delete marker of any purged key is left, and emit one
   ``archive.purge`` LIFECYCLE audit event for the region.

A dry run stops after the plan. Regions are purged independently: one region down never stops
the other, and the command exits non-zero if any region failed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from pipeline.archive.format import layout, purge_records
from pipeline.archive.format.keys import ALGORITHM, Signer
from pipeline.archive.format.manifest import Checkpoint, Manifest
from pipeline.archive.format.store import Store
from pipeline.archive.lifecycle.locks import LockedBucket, LockedError, Version
from pipeline.archive.lifecycle.regions import AuditSink, Progress, Region, put_signed
from pipeline.archive.lifecycle.retention import Retention
from pipeline.errors import PipelineError
from pipeline.events.jsonform import format_ts, parse_ts

log = logging.getLogger(__name__)


@dataclass
class PurgePlan:
    region: str
    topic: str
    manifests: list[purge_records.PurgedManifest] = field(default_factory=list)
    checkpoints: list[purge_records.PurgedCheckpoint] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # in deletion order
    held: list[str] = field(default_factory=list)  # batches/checkpoints a legal hold keeps
    locked: int = 0  # partitions and chains whose next link is still under retention

    def ranges(self) -> str:
        """``p0:0-99,p1:0-49``: the offsets purged per partition."""
        spans: dict[int, list[int]] = {}
        for m in self.manifests:
            lo, hi = spans.get(m.partition, [m.first_offset, m.last_offset])
            spans[m.partition] = [min(lo, m.first_offset), max(hi, m.last_offset)]
        return ",".join(f"p{p}:{lo}-{hi}" for p, (lo, hi) in sorted(spans.items())) or "-"


@dataclass
class PurgeResult:
    plan: PurgePlan
    record_key: str | None = None
    versions_deleted: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class PurgeError(PipelineError):
    """A purge could not complete in a region (details in the message)."""


def _expired(until: str | None, now: datetime) -> bool:
    return until is None or parse_ts(until, "retain_until") <= now


def _policy_until(
    retention: Retention | None, name: str | None, created: str, recorded: str | None
) -> str | None:
    """The later of the recorded retain-until and what the *current* policy gives the class
    (a period lengthened since the write also holds for what was written before; a class that
    no longer exists counts as the longest one)."""
    if retention is None:
        return recorded
    now_until = format_ts(retention.until_now(name, parse_ts(created, "created")))
    return max(recorded, now_until) if recorded else now_until


def _group_versions(bucket: LockedBucket, prefix: str) -> dict[str, list[Version]]:
    out: dict[str, list[Version]] = defaultdict(list)
    for v in bucket.versions(prefix):
        out[v.key].append(v)
    return out


def _free(bucket: LockedBucket, versions: Iterable[Version], now: datetime) -> str | None:
    """None if every version may go now; else "held" or "locked"."""
    for v in versions:
        if v.delete_marker:
            continue
        lock = bucket.lock(v)
        if lock.legal_hold:
            return "held"
        if lock.retain_until is not None and lock.retain_until > now:
            return "locked"
    return None


def _blocked(
    plan: PurgePlan,
    bucket: LockedBucket,
    key: str,
    retain_until: str | None,
    versions_prefix: str,
    now: datetime,
) -> bool:
    """Whether ``key`` must stay (still locked, or held: noted in ``plan``)."""
    why = "locked" if not _expired(retain_until, now) else None
    if why is None:
        versions = _group_versions(bucket, versions_prefix)
        why = _free(bucket, (v for vs in versions.values() for v in vs), now)
    if why == "held":
        plan.held.append(key)
    plan.locked += why == "locked"
    return why is not None


def _manifest_keys(store: Store, topic: str) -> dict[int, list[str]]:
    """Each partition's manifest keys in offset order, from the listing alone (the key names
    partition and offsets), so planning reads only the manifests it may purge plus one."""
    by_partition: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for key in store.list(f"{layout.EVENTS}{topic}/"):
        if key.endswith(layout.MANIFEST_SUFFIX):
            parsed = layout.parse_batch_key(layout.object_key_of_manifest(key))
            if parsed is not None:
                by_partition[parsed.partition].append((parsed.first_offset, key))
    return {p: [k for _, k in sorted(entries)] for p, entries in by_partition.items()}


def _seq(checkpoint_key: str) -> int:
    parsed = layout.parse_checkpoint_key(checkpoint_key)
    return parsed.seq if parsed else -1


def plan_purge(
    region: Region, topic: str, now: datetime, retention: Retention | None = None
) -> PurgePlan:
    """What may be purged from ``region`` for ``topic`` at ``now`` (reads only); with
    ``retention``, nothing before its current periods end either."""
    plan = PurgePlan(region.name, topic)
    bucket = region.bucket
    ckpts = [
        k
        for k in region.store.list(f"{layout.CHECKPOINTS}{topic}/")
        if k.endswith(layout.CHECKPOINT_SUFFIX)
    ]
    ckpts.sort(key=_seq)
    # the heads the latest checkpoint names are where the archiver resumes: never purged
    protected: set[str] = set()
    if ckpts:
        try:
            latest = Checkpoint.model_validate_json(region.store.get(ckpts[-1]))
            protected = {e.manifest_key for e in latest.partitions.values()}
        except ValidationError:
            return plan  # verify reports it; purge nothing until the archive is sound
    for _partition, mkeys in sorted(_manifest_keys(region.store, topic).items()):
        for key in mkeys[:-1]:  # never the chain head
            if key in protected:
                break
            data = region.store.get(key)
            try:
                m = Manifest.model_validate_json(data)
            except ValidationError:
                log.warning("unreadable manifest: not purged (run verify)", extra={"key": key})
                break
            okey = m.object_key
            if okey != layout.object_key_of_manifest(key):
                log.warning("misplaced manifest: not purged (run verify)", extra={"key": key})
                break
            # the batch, its manifest and signature share the batch key as a prefix
            until = _policy_until(retention, m.retention_class, m.created, m.retain_until)
            if _blocked(plan, bucket, okey, until, okey, now):
                break
            plan.manifests.append(purge_records.PurgedManifest.of(key, data, m))
            plan.keys += [okey, layout.manifest_sig_key(okey), key]
            # a flush intent announcing batches from here on is spent (recovery only reads the
            # ones after the heads); it goes when its own lock allows
            ipfx = layout.intent_prefix(topic, m.partition, m.first_offset)
            for ikey, versions in _group_versions(bucket, ipfx).items():
                if _free(bucket, versions, now) is None:
                    plan.keys.append(ikey)
    for key in ckpts[:-1]:  # never the latest
        data = region.store.get(key)
        try:
            cp = Checkpoint.model_validate_json(data)
        except ValidationError:
            break
        stem = key.removesuffix(layout.CHECKPOINT_SUFFIX)  # the checkpoint and its signature
        meta = retention.metadata_class if retention else None
        until = _policy_until(retention, meta, cp.created, cp.retain_until)
        if _blocked(plan, bucket, key, until, stem, now):
            break
        plan.checkpoints.append(purge_records.PurgedCheckpoint.of(key, data, cp))
        plan.keys += [layout.checkpoint_sig_key(key), key]
    return plan


def _write_record(
    region: Region, plan: PurgePlan, signer: Signer, now: datetime, retain_until: datetime | None
) -> str:
    head = purge_records.head(region.store, plan.topic)
    record = purge_records.PurgeRecord(
        topic=plan.topic,
        seq=head.seq + 1,
        created=format_ts(now),
        region=region.name,
        prev_record_key=head.key,
        prev_record_sha256=head.sha256,
        manifests=plan.manifests,
        checkpoints=plan.checkpoints,
        objects=len(plan.keys),
        key_id=signer.key_id,
        algorithm=ALGORITHM,
        retain_until=format_ts(retain_until) if retain_until else None,
    )
    key = purge_records.record_key(plan.topic, record.seq)
    put_signed(
        region.store,
        key,
        purge_records.record_sig_key(key),
        record.canonical(),
        signer,
        retain_until,
    )
    return key


def execute_purge(
    region: Region,
    plan: PurgePlan,
    signer: Signer,
    now: datetime,
    *,
    record_retain_until: datetime | None,
    audit: AuditSink | None = None,
    progress: Progress | None = None,
) -> PurgeResult:
    """Record, delete and check (see the module docstring); audits the outcome."""
    result = PurgeResult(plan)
    if not plan.keys:
        return result
    bucket = region.bucket
    try:
        result.record_key = _write_record(region, plan, signer, now, record_retain_until)
        for key in plan.keys:
            for v in _group_versions(bucket, key).get(key, []):
                if not v.delete_marker and bucket.legal_hold(v):
                    result.failures.append(f"{key}: legal hold set since the plan; not deleted")
                    continue
                try:
                    bucket.delete(v)
                    result.versions_deleted += 1
                except LockedError as exc:
                    result.failures.append(str(exc))
            if progress is not None:
                progress(1)
        left = [k for k in plan.keys if not bucket.gone(k)]
        result.failures += [f"{k}: still present after the purge" for k in left]
    except PipelineError as exc:
        result.failures.append(str(exc))
    if audit is not None:
        audit(
            "archive.purge",
            "SUCCESS" if result.ok else "ERROR",
            {
                "region": region.name,
                "topic": plan.topic,
                "purge_record": result.record_key or "",
                "offsets": plan.ranges(),
                "batches": str(len(plan.manifests)),
                "checkpoints": str(len(plan.checkpoints)),
                "objects": str(len(plan.keys)),
                "versions_deleted": str(result.versions_deleted),
                "verified_gone": str(not result.failures).lower(),
                "failures": "; ".join(result.failures)[:1000],
            },
        )
    return result
