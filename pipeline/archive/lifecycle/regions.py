"""One region's archive and the helpers every lifecycle command shares: the region (store and
Object Lock versions), opening each configured region, signed records, the audit sink.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pipeline.archive.format import layout
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.s3client import s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.archive.lifecycle.locks import LockedBucket
from pipeline.settings import Settings

#: action, outcome, details -> emits one LIFECYCLE audit event (see ``audit``)
AuditSink = Callable[[str, str, Mapping[str, str]], None]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Region:
    """One region's archive: the object store (reads, write-once puts) and its versions."""

    name: str
    store: Store
    bucket: LockedBucket


def put_signed(
    store: Store,
    key: str,
    sig_key: str,
    data: bytes,
    signer: Signer,
    retain_until: datetime | None,
) -> None:
    """Write a record and its detached signature, both locked until ``retain_until``."""
    sig = signer.sign(data)
    store.put_if_absent(key, data, sha256_hex(data), retain_until=retain_until)
    store.put_if_absent(sig_key, sig, sha256_hex(sig), retain_until=retain_until)


def topics(store: Store) -> list[str]:
    """The topics an archive holds batches or checkpoints of."""
    found = {k.split("/", 2)[1] for k in store.list(layout.EVENTS) if k.count("/") >= 2}
    found |= {k.split("/", 2)[1] for k in store.list(layout.CHECKPOINTS) if k.count("/") >= 2}
    return sorted(found)


def open_regions(
    settings: Settings,
    *,
    regions: list[str] | None = None,
    bucket_prefix: str | None = None,
    archive_prefix: str = "",
) -> list[Region]:
    """Each configured region's archive bucket (``<bucket_prefix>-<region>``)."""
    out = []
    for name in regions or list(settings.s3_regions):
        s3 = s3_client(settings, name)
        bucket = f"{bucket_prefix}-{name}" if bucket_prefix else settings.archive.bucket(name)
        out.append(
            Region(
                name,
                S3ObjectLockStore(s3, bucket, archive_prefix),
                LockedBucket(s3, bucket, archive_prefix, name),
            )
        )
    return out
