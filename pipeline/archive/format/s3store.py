"""An archive store on S3 with Object Lock: write-once objects, COMPLIANCE retention.

``put_if_absent`` never overwrites: a conditional PUT (``If-None-Match: *``) with a SHA-256
checksum header (Object Lock requires a checksum or Content-MD5). If the key already exists —
a retry after a crash — the stored object's checksum is compared: the same bytes make the call
a no-op, different bytes are an error (the deterministic batch layout makes that a bug or
tampering, never a normal case).
"""

from __future__ import annotations

import base64
import builtins
import functools
import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.archive.format.s3client import s3_client
from pipeline.archive.format.store import (
    ObjectConflictError,
    ObjectNotFoundError,
    Store,
    open_store,
)
from pipeline.errors import ConfigError, RetryableError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class S3ObjectLockStore:
    """Objects in one bucket (and optional prefix) of one region; implements archive.store.Store.

    Every object is written with COMPLIANCE retention until now + ``retention_days`` (0: the
    bucket's default retention, if any).
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        retention_days: int = 0,
        connect: Callable[[], S3Client] | None = None,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.retention_days = retention_days
        # how to make a new client: lets the store travel to `verify --jobs` worker processes
        self.connect = connect

    def __getstate__(self) -> dict[str, object]:
        if self.connect is None:
            raise TypeError("an S3ObjectLockStore without `connect` cannot be pickled")
        return {k: v for k, v in self.__dict__.items() if k != "s3"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        assert self.connect is not None
        self.s3 = self.connect()

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_if_absent(
        self,
        key: str,
        data: bytes,
        checksum: str | None = None,
        *,
        retain_until: datetime | None = None,
    ) -> bool:
        """Write ``data`` under ``key`` unless it exists; return True if this call wrote it.

        ``checksum`` (hex SHA-256, as the Store protocol passes it) is checked against ``data``.
        """
        digest = hashlib.sha256(data)
        if checksum is not None and digest.hexdigest() != checksum:
            raise ValueError(f"{key}: checksum does not match the data")
        checksum = base64.b64encode(digest.digest()).decode()
        if retain_until is None and self.retention_days > 0:
            retain_until = datetime.now(UTC) + timedelta(days=self.retention_days)
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
        except BotoCoreError as exc:  # endpoint down, timeouts: the region is unavailable
            raise RetryableError(f"PUT {key} failed: {exc}") from exc
        except ClientError as exc:
            code = _code(exc)
            if code not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise RetryableError(f"PUT {key} failed: {code or exc}") from exc
        existing = self.get(key)
        if sha256_b64(existing) != checksum:
            raise ObjectConflictError(f"{self.bucket}/{self._key(key)}")
        return False

    def get(self, key: str) -> bytes:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            return bytes(body.read())
        except BotoCoreError as exc:
            raise RetryableError(f"GET {key} failed: {exc}") from exc
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise ObjectNotFoundError(key) from None
            raise RetryableError(f"GET {key} failed: {_code(exc) or exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except BotoCoreError as exc:
            raise RetryableError(f"HEAD {key} failed: {exc}") from exc
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise RetryableError(f"HEAD {key} failed: {_code(exc) or exc}") from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (relative to the store's prefix), in lexicographic order."""
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for obj in page.get("Contents", []):
                    yield obj["Key"][len(self.prefix) :]
        except (BotoCoreError, ClientError) as exc:
            raise RetryableError(f"LIST {prefix} failed: {exc}") from exc

    def list_after(self, prefix: str, start_after: str, limit: int) -> builtins.list[str]:
        """Up to ``limit`` keys under ``prefix`` after ``start_after`` (one LIST request)."""
        try:
            page = self.s3.list_objects_v2(
                Bucket=self.bucket,
                Prefix=self._key(prefix),
                StartAfter=self._key(start_after) if start_after else "",
                MaxKeys=limit,
            )
        except (BotoCoreError, ClientError) as exc:
            raise RetryableError(f"LIST {prefix} failed: {exc}") from exc
        return [obj["Key"][len(self.prefix) :] for obj in page.get("Contents", [])]

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        """The common prefixes directly under ``prefix`` (delimiter ``/``)."""
        paginator = self.s3.get_paginator("list_objects_v2")
        out: builtins.list[str] = []
        try:
            pages = paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix), Delimiter="/")
            for page in pages:
                out.extend(p["Prefix"][len(self.prefix) :] for p in page.get("CommonPrefixes", []))
        except (BotoCoreError, ClientError) as exc:
            raise RetryableError(f"LIST {prefix} failed: {exc}") from exc
        return sorted(out)

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


def open_url(
    url: str,
    settings: Settings,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    create: bool = True,
) -> Store:
    """``file:///DIR`` or ``s3://BUCKET[/PREFIX]`` (endpoint from ``--endpoint-url``, or the
    configured endpoint of ``region``, or of the region named in the bucket's suffix)."""
    parsed = urlparse(url)
    if parsed.scheme != "s3":
        return open_store(url, create=create)
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    if not bucket:
        raise ConfigError(f"{url!r} names no bucket (s3://BUCKET/PREFIX)")
    regions = settings.s3_regions
    if region is None:
        region = next((r for r in regions if bucket.endswith(r)), None) or next(iter(regions))
    if endpoint_url is not None:
        settings = settings.model_copy(update={"s3_endpoints": {region: endpoint_url}})
    connect = functools.partial(s3_client, settings, region)
    return S3ObjectLockStore(connect(), bucket, prefix, connect=connect)
