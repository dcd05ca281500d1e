"""Both S3 regions enforce Object Lock: a COMPLIANCE-locked version cannot be deleted,
overwritten, unlocked or shortened."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from pipeline.archive.format.s3client import ensure_object_lock_bucket

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

REGIONS = ["us-east-1", "eu-central-1"]


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


@pytest.fixture(params=REGIONS)
def region_bucket(
    request: pytest.FixtureRequest, s3_regions: dict[str, S3Client]
) -> tuple[S3Client, str]:
    region: str = request.param
    assert region in s3_regions, f"region {region} is not configured"
    s3 = s3_regions[region]
    bucket = f"auditpipe-test-lock-{region}"
    ensure_object_lock_bucket(s3, bucket, region)
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock.get("ObjectLockEnabled") == "Enabled"
    return s3, bucket


def test_compliance_locked_version_cannot_be_deleted_or_overwritten(
    region_bucket: tuple[S3Client, str],
) -> None:
    s3, bucket = region_bucket
    key = f"locked/{uuid.uuid4()}.bin"
    body = b"audit batch " + uuid.uuid4().bytes
    retain_until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=retain_until,
    )
    version = put["VersionId"]
    retention = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention.get("Mode") == "COMPLIANCE"

    # delete of the version: refused, even when asking to bypass governance
    with pytest.raises(ClientError) as denied:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert _error_code(denied.value) == "AccessDenied"
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)

    # retention cannot be shortened or removed in COMPLIANCE mode
    with pytest.raises(ClientError):
        s3.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retain_until - timedelta(hours=12)},
        )
    with pytest.raises(ClientError):
        s3.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": retain_until},
            BypassGovernanceRetention=True,
        )

    # an "overwrite" only adds a new version; the locked version keeps its bytes
    s3.put_object(Bucket=bucket, Key=key, Body=b"tampered", ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert version in {v.get("VersionId") for v in versions}

    # a plain delete (no version) only adds a delete marker: the locked version survives
    s3.delete_object(Bucket=bucket, Key=key)
    got = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert got == body


def test_conditional_put_refuses_to_overwrite_an_existing_key(
    region_bucket: tuple[S3Client, str],
) -> None:
    s3, bucket = region_bucket
    key = f"batches/{uuid.uuid4()}.avro"
    s3.put_object(
        Bucket=bucket, Key=key, Body=b"first", ChecksumAlgorithm="SHA256", IfNoneMatch="*"
    )
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=bucket, Key=key, Body=b"second", ChecksumAlgorithm="SHA256", IfNoneMatch="*"
        )
    assert _error_code(exc.value) in ("PreconditionFailed", "412")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first"
