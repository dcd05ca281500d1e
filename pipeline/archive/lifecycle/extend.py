"""``auditpipe retention apply --extend``: make the store enforce a lengthened retention class.

A batch is locked (COMPLIANCE) when written, for its class's period *then*. When a class is
lengthened later, purge already honours the new period (``purge``), but the store would let
anyone delete the batch once the old date passed. ``extend_locks`` moves every stored version's
COMPLIANCE retain-until forward to *written + current period* of its class (the metadata class
for checkpoints), which S3 allows (it never allows shortening). Versions already locked at least
that long, and objects whose new date is already past, are left alone. One ``archive.retention
.extend`` LIFECYCLE event per region says how many versions were extended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from pipeline.archive.format import layout
from pipeline.archive.format.manifest import Checkpoint, Manifest
from pipeline.archive.lifecycle.regions import AuditSink, Region
from pipeline.archive.lifecycle.retention import Retention
from pipeline.errors import PipelineError
from pipeline.events.jsonform import format_ts, parse_ts


@dataclass
class ExtendResult:
    region: str
    documents: int = 0  # manifests and checkpoints looked at
    versions_extended: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _target(retention: Retention, name: str | None, created: str) -> datetime:
    return retention.until_now(name, parse_ts(created, "created"))


def _extend(region: Region, prefix: str, until: datetime, now: datetime) -> int:
    if until <= now:
        return 0
    done = 0
    for v in region.bucket.versions(prefix):
        if v.delete_marker:
            continue
        lock = region.bucket.lock(v)
        if lock.retain_until is None or lock.retain_until < until:
            region.bucket.extend(v, until)
            done += 1
    return done


def extend_locks(
    region: Region,
    retention: Retention,
    now: datetime,
    *,
    audit: AuditSink | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExtendResult:
    """Extend every batch's and checkpoint's lock to what ``retention`` gives it now."""
    result = ExtendResult(region.name)
    try:
        for key in region.store.list(layout.EVENTS):
            if not key.endswith(layout.MANIFEST_SUFFIX):
                continue
            try:
                m = Manifest.model_validate_json(region.store.get(key))
            except ValidationError:
                continue  # verify reports it
            until = _target(retention, m.retention_class, m.created)
            # the batch, its manifest and signature share the batch key as a prefix
            result.versions_extended += _extend(region, m.object_key, until, now)
            result.documents += 1
            if progress is not None:
                progress(1)
        for key in region.store.list(layout.CHECKPOINTS):
            if not key.endswith(layout.CHECKPOINT_SUFFIX):
                continue
            try:
                cp = Checkpoint.model_validate_json(region.store.get(key))
            except ValidationError:
                continue
            until = _target(retention, retention.metadata_class, cp.created)
            stem = key.removesuffix(layout.CHECKPOINT_SUFFIX)  # the checkpoint and its signature
            result.versions_extended += _extend(region, stem, until, now)
            result.documents += 1
    except PipelineError as exc:
        result.failures.append(str(exc))
    if audit is not None:
        audit(
            "archive.retention.extend",
            "SUCCESS" if result.ok else "ERROR",
            {
                "region": region.name,
                "documents": str(result.documents),
                "versions_extended": str(result.versions_extended),
                "at": format_ts(now),
                "failures": "; ".join(result.failures)[:1000],
            },
        )
    return result
