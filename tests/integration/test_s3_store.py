"""The Object-Lock archive store on both real S3 regions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from pipeline.archive.format import layout
from pipeline.archive.format.chain import latest_checkpoint_key
from pipeline.archive.format.s3client import ensure_object_lock_bucket
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.format.store import ObjectConflictError, ObjectNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


@pytest.fixture(params=["us-east-1", "eu-central-1"])
def store(request: pytest.FixtureRequest, s3_regions: dict[str, S3Client]) -> S3ObjectLockStore:
    region: str = request.param
    s3 = s3_regions[region]
    bucket = f"auditpipe-test-store-{region}"
    ensure_object_lock_bucket(s3, bucket, region)
    return S3ObjectLockStore(s3, bucket, prefix=f"run-{uuid.uuid4().hex[:8]}")


def test_write_once_and_retry_is_idempotent(store: S3ObjectLockStore) -> None:
    key = "events/audit.events/dt=2026-11-01/p=0/00000000000000000000-00000000000000000099.avro"
    until = datetime.now(UTC) + timedelta(days=1)
    assert store.put_if_absent(key, b"batch-bytes", retain_until=until) is True
    assert store.put_if_absent(key, b"batch-bytes", retain_until=until) is False  # a retry
    with pytest.raises(ObjectConflictError):
        store.put_if_absent(key, b"other-bytes", retain_until=until)
    assert store.get(key) == b"batch-bytes"
    assert store.exists(key)
    assert not store.exists(key + ".nope")
    with pytest.raises(ObjectNotFoundError):
        store.get(key + ".nope")
    assert list(store.list("events/")) == [key]
    retention = store.s3.get_object_retention(Bucket=store.bucket, Key=store.prefix + key)
    assert retention["Retention"].get("Mode") == "COMPLIANCE"


def test_legal_hold_blocks_deletion(store: S3ObjectLockStore) -> None:
    key = f"held/{uuid.uuid4()}.avro"
    assert store.put_if_absent(key, b"evidence")
    assert store.legal_hold(key) is False
    store.set_legal_hold(key, True)
    assert store.legal_hold(key) is True
    version = store.s3.head_object(Bucket=store.bucket, Key=store.prefix + key)["VersionId"]
    with pytest.raises(ClientError):
        store.s3.delete_object(Bucket=store.bucket, Key=store.prefix + key, VersionId=version)
    store.set_legal_hold(key, False)
    assert store.legal_hold(key) is False
    store.s3.delete_object(Bucket=store.bucket, Key=store.prefix + key, VersionId=version)
    assert not store.exists(key)


def test_recovery_listings_find_the_latest_checkpoint(store: S3ObjectLockStore) -> None:
    """list_after/list_dirs as recovery uses them (StartAfter, MaxKeys, Delimiter on the real
    server), and the galloping search for the newest checkpoint."""
    topic = "audit.events"
    seqs = [0, 1, 2, 3, 5, 8, 13, 21, 34, 35, 36, 37]  # gaps too: the search must not assume none
    for seq in seqs:
        day = date(2026, 11, 1) + timedelta(days=seq // 20)
        key = layout.checkpoint_key(topic, seq, day)
        store.put_if_absent(key, b"{}")
        store.put_if_absent(layout.checkpoint_sig_key(key), b"sig")
    prefix = f"checkpoints/{topic}/"
    assert store.list_dirs(prefix) == [f"{prefix}dt=2026-11-01/", f"{prefix}dt=2026-11-02/"]
    day1 = f"{prefix}dt=2026-11-01/"
    assert store.list_after(day1, f"{day1}{4:020d}", 2) == [
        f"{day1}{5:020d}.json",
        f"{day1}{5:020d}.sig",
    ]
    assert store.list_after(day1, f"{day1}{14:020d}", 5) == []
    assert latest_checkpoint_key(store, topic) == layout.checkpoint_key(
        topic, 37, date(2026, 11, 2)
    )
    assert latest_checkpoint_key(store, "other.topic") is None
