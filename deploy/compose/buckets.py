"""Compose setup job: create each region's archive bucket with Object Lock on (idempotent).

Run by the `setup` service as `python /setup/buckets.py` with the same AUDITPIPE_* settings as
the stages; waits for each S3 region to answer first.
"""

from __future__ import annotations

import time

from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.settings import load_settings


def main() -> None:
    settings = load_settings()
    for region in settings.s3_regions:
        s3 = s3_client(settings, region, timeout_s=5)
        bucket = settings.archive.bucket(region)
        for attempt in range(60):
            try:
                created = ensure_object_lock_bucket(s3, bucket, region)
                break
            except Exception as exc:  # the region is still starting
                if attempt == 59:
                    raise
                print(f"waiting for S3 {region}: {type(exc).__name__}", flush=True)
                time.sleep(2)
        lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
        assert lock.get("ObjectLockEnabled") == "Enabled", f"{bucket}: object lock is off"
        print(f"{region}: bucket {bucket} {'created' if created else 'exists'}, object lock on")


if __name__ == "__main__":
    main()
