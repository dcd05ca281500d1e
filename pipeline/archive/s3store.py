"""An archive store on S3 with Object Lock: write-once objects, COMPLIANCE retention.

``put_if_absent`` never overwrites: a conditional PUT (``If-None-Match: *``) with a SHA-256
checksum header (Object Lock requires a checksum or Content-MD5). If the key already exists —
a retry after a crash — the stored object's checksum is compared: the same bytes make the call
a no-op, different bytes are an error (the deterministic batch layout makes that a bug or
tampering, never a normal case).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pipeline.errors import PipelineError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectConflictError(PipelineError):
    """An object exists under the key with different content."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class S3ObjectLockStore:
    """Objects in one bucket (and optional prefix) of one region."""

    def __init__(self, s3: S3Client, bucket: str, prefix: str = "") -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_if_absent(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> bool:
        """Write ``data`` under ``key`` unless it exists; return True if this call wrote it."""
        checksum = sha256_b64(data)
        kwargs = {}
        if retain_until is not None:
            kwargs = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ChecksumSHA256=checksum,
                IfNoneMatch="*",
                **kwargs,  # type: ignore[arg-type]
            )
            return True
        except ClientError as exc:
            code = _code(exc)
            if code not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise RetryableError(f"PUT {key} failed: {code or exc}") from exc
        existing = self.get(key)
        if sha256_b64(existing) != checksum:
            raise ObjectConflictError(
                f"{self.bucket}/{self._key(key)} exists with different content; refusing to write"
            )
        return False

    def get(self, key: str) -> bytes:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            return bytes(body.read())
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise RetryableError(f"GET {key} failed: {_code(exc) or exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise RetryableError(f"HEAD {key} failed: {_code(exc) or exc}") from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (relative to the store's prefix), in lexicographic order."""
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix) :]

    def set_legal_hold(self, key: str, on: bool) -> None:
        self.s3.put_object_legal_hold(
            Bucket=self.bucket, Key=self._key(key), LegalHold={"Status": "ON" if on else "OFF"}
        )

    def legal_hold(self, key: str) -> bool:
        try:
            hold = self.s3.get_object_legal_hold(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in ("NoSuchObjectLockConfiguration", "InvalidRequest"):
                return False
            raise
        return hold.get("LegalHold", {}).get("Status") == "ON"
