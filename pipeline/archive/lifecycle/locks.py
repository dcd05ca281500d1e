"""Object Lock operations on every *version* of archive objects in one region's bucket.

Legal hold and purge act on versions, not keys: a plain DELETE on a versioned bucket only adds a
delete marker (the locked bytes stay), and a "lost" overwrite attempt may have left extra
versions. ``LockedBucket`` lists the versions under a prefix and reads or changes their lock.

Known gap of the local stack's S3 server (versitygw v1.8.0, ``auth/object_lock.go``
``checkObject``): once a version's retention has expired it skips the legal-hold check, so it
deletes a version whose legal hold is ON. AWS S3 refuses that. The purge therefore checks each
version's legal hold itself right before deleting it (``purge``), and the integration tests
document the server's behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.errors import PipelineError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NO_LOCK = ("NoSuchObjectLockConfiguration", "InvalidRequest")


class LockedError(PipelineError):
    """The store refused to delete a version: its retention or legal hold is in force."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True, slots=True)
class Version:
    key: str  # relative to the bucket's archive prefix
    version_id: str
    delete_marker: bool = False


@dataclass(frozen=True, slots=True)
class Lock:
    retain_until: datetime | None  # None: no retention on this version
    mode: str | None
    legal_hold: bool


class LockedBucket:
    """One region's archive bucket (and optional prefix), version by version."""

    def __init__(self, s3: S3Client, bucket: str, prefix: str = "", region: str = "") -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region = region

    def _key(self, key: str) -> str:
        return self.prefix + key

    def versions(self, prefix: str = "") -> Iterator[Version]:
        """Every version and delete marker under ``prefix``, in key order."""
        paginator = self.s3.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                found = [
                    Version(v["Key"][len(self.prefix) :], v.get("VersionId") or "null")
                    for v in page.get("Versions", [])
                ]
                found += [
                    Version(m["Key"][len(self.prefix) :], m.get("VersionId") or "null", True)
                    for m in page.get("DeleteMarkers", [])
                ]
                yield from sorted(found, key=lambda v: (v.key, v.delete_marker, v.version_id))
        except (BotoCoreError, ClientError) as exc:
            raise RetryableError(f"{self.region}: LIST VERSIONS {prefix} failed: {exc}") from exc

    def lock(self, v: Version) -> Lock:
        """The version's retention and legal hold (HEAD; versions without a lock say so)."""
        try:
            head = self.s3.head_object(
                Bucket=self.bucket, Key=self._key(v.key), VersionId=v.version_id
            )
        except ClientError as exc:
            raise RetryableError(f"{self.region}: HEAD {v.key} failed: {_code(exc)}") from exc
        return Lock(
            head.get("ObjectLockRetainUntilDate"),
            head.get("ObjectLockMode"),
            head.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def legal_hold(self, v: Version) -> bool:
        """Asked of the legal-hold API itself (not HEAD), right before a delete."""
        try:
            got = self.s3.get_object_legal_hold(
                Bucket=self.bucket, Key=self._key(v.key), VersionId=v.version_id
            )
        except ClientError as exc:
            if _code(exc) in _NO_LOCK:
                return False
            raise RetryableError(f"{self.region}: GET legal hold {v.key}: {_code(exc)}") from exc
        return got.get("LegalHold", {}).get("Status") == "ON"

    def set_legal_hold(self, v: Version, on: bool) -> None:
        try:
            self.s3.put_object_legal_hold(
                Bucket=self.bucket,
                Key=self._key(v.key),
                VersionId=v.version_id,
                LegalHold={"Status": "ON" if on else "OFF"},
            )
        except (BotoCoreError, ClientError) as exc:
            raise RetryableError(f"{self.region}: PUT legal hold {v.key} failed: {exc}") from exc

    def extend(self, v: Version, until: datetime) -> None:
        """Move the version's COMPLIANCE retain-until forward (S3 refuses to shorten it)."""
        try:
            self.s3.put_object_retention(
                Bucket=self.bucket,
                Key=self._key(v.key),
                VersionId=v.version_id,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until},
            )
        except ClientError as exc:
            raise LockedError(f"{self.region}: {v.key}: retention not extended: {exc}") from exc
        except BotoCoreError as exc:
            raise RetryableError(f"{self.region}: PUT retention {v.key}: {exc}") from exc

    def delete(self, v: Version) -> None:
        """Delete one version for good (the store refuses while it is locked)."""
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self._key(v.key), VersionId=v.version_id)
        except ClientError as exc:
            if _code(exc) in ("AccessDenied", "ObjectLocked", "InvalidRequest"):
                raise LockedError(f"{self.region}: {v.key} is locked: {_code(exc)}") from exc
            raise RetryableError(f"{self.region}: DELETE {v.key} {v.version_id}: {exc}") from exc
        except BotoCoreError as exc:
            raise RetryableError(f"{self.region}: DELETE {v.key} {v.version_id}: {exc}") from exc

    def gone(self, key: str) -> bool:
        """No version and no delete marker of ``key`` is left."""
        return not any(v.key == key for v in self.versions(key))
