"""S3 clients for the archive regions, built from settings (credentials never logged)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeline.errors import ConfigError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType


def s3_client(settings: Settings, region: str, *, timeout_s: float = 10.0) -> S3Client:
    """A client for one archive region (path-style addressing, bounded retries)."""
    endpoints = settings.s3_regions
    if region not in endpoints:
        raise ConfigError(
            f"unknown S3 region {region!r}; configured regions: {', '.join(endpoints)}"
        )
    key_id, secret = settings.s3_credentials
    return boto3.client(
        "s3",
        endpoint_url=endpoints[region],
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret.get_secret_value(),
        config=Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )


def ensure_object_lock_bucket(s3: S3Client, bucket: str, region: str) -> bool:
    """Create ``bucket`` with Object Lock enabled unless it exists; return whether created."""
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(
            Bucket=bucket,
            ObjectLockEnabledForBucket=True,
            CreateBucketConfiguration={
                "LocationConstraint": cast("BucketLocationConstraintType", region)
            },
        )
    return True
