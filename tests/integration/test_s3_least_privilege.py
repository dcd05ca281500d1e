"""S3 least privilege with versitygw's own accounts and bucket policies (issue 12), on two
PRIVATE versitygw regions of this test (the stack's binary, its S3 service definition with
``s3_iam`` on, temp dirs, free ports), provisioned by ``pipeline.stack.s3iam.provision``.

Each role can do its job, and versitygw refuses the rest: an archiver cannot delete an object
or a version, shorten (or touch) retention beyond its own puts, set a legal hold, or write the
other region; a verifier cannot write; the lifecycle admin sets legal holds."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeline.archive.format import keys as keys_mod
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.importer import import_jsonl
from pipeline.settings import S3RegionConfig, Settings
from pipeline.stack import s3iam
from pipeline.stack.config import StackConfig
from pipeline.stack.services import S3Service
from tests.integration.ports import free_port, wait_port
from tests.integration.replay_events import generated

pytestmark = pytest.mark.integration
REGIONS = ("us-east-1", "eu-central-1")
PREFIX = "lp-archive"


@pytest.fixture(scope="module")
def private_s3(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """Two versitygw regions with IAM on, provisioned; stopped afterwards."""
    if not stack.stack.versitygw_bin.is_file():
        pytest.skip(f"{stack.stack.versitygw_bin} not built (auditpipe stack fetch)")
    home = tmp_path_factory.mktemp("s3iam")
    (home / "bin").mkdir()
    (home / "bin" / stack.stack.versitygw_bin.name).symlink_to(stack.stack.versitygw_bin)
    regions = []
    while len(regions) < len(REGIONS):  # S3 port and admin port (+10) both free
        port = free_port()
        if port + 10 < 65536 and all(port != r.port for r in regions):
            regions.append(S3RegionConfig(name=REGIONS[len(regions)], port=port))
    cfg = StackConfig(home=home, s3_regions=tuple(regions), s3_iam=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for region in cfg.s3_regions:
            svc = S3Service(cfg, region)
            svc.prepare()
            spec = svc.spec()
            assert "--iam-dir" in spec.argv
            procs.append(
                subprocess.Popen(
                    spec.argv,
                    env={**os.environ, **spec.env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            wait_port(region.port)
            wait_port(region.port + cfg.s3_admin_port_offset)
        s3iam.provision(cfg, PREFIX)
        s3iam.provision(cfg, PREFIX)  # idempotent: accounts and buckets exist, policy the same
        yield cfg
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)


def _client(cfg: StackConfig, region: str, role: str) -> Any:
    key, secret = s3iam.read_credentials(s3iam.credentials_file(cfg, role))
    return boto3.client(
        "s3",
        endpoint_url=cfg.s3_endpoint(region),
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _denied(call: Any) -> None:
    with pytest.raises(ClientError) as info:
        call()
    assert "AccessDenied" in info.value.response["Error"]["Code"], info.value.response


def _bucket(region: str) -> str:
    return f"{PREFIX}-{region}"


def test_credentials_are_owner_only_files(private_s3: StackConfig) -> None:
    for role in s3iam.roles(private_s3):
        path = s3iam.credentials_file(private_s3, role)
        assert path.stat().st_mode & 0o077 == 0, path
    assert len({s3iam.read_credentials(s3iam.credentials_file(private_s3, r))[0]
                for r in s3iam.roles(private_s3)}) == len(s3iam.roles(private_s3))  # fmt: skip


def test_each_role_does_its_job_and_nothing_else(private_s3: StackConfig, tmp_path: Path) -> None:
    cfg = private_s3
    region, other = REGIONS
    bucket = _bucket(region)
    archiver = _client(cfg, region, f"archiver-{region}")

    # the archiver archives (write-once puts with COMPLIANCE retention, reads its chain)
    run = uuid.uuid4().hex[:8]
    store = S3ObjectLockStore(archiver, bucket, prefix=run, retention_days=1)
    src = tmp_path / "events.jsonl"
    src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in generated(50, seed=3)))
    private, public = keys_mod.generate(tmp_path / "keys")
    result = import_jsonl(src, store, keys_mod.load_private_key(private), batch_size=10)
    assert result.batches == 5

    # the verifier verifies, from its own read-only credential
    verifier = _client(cfg, region, "verifier")
    report = verify(
        S3ObjectLockStore(verifier, bucket, prefix=run), keys_mod.Keyring.from_file(public)
    )
    assert report.ok, report.problems

    key = next(k["Key"] for k in archiver.list_objects_v2(Bucket=bucket, Prefix=run)["Contents"])
    version = verifier.head_object(Bucket=bucket, Key=key)["VersionId"]
    until = archiver.get_object_retention(Bucket=bucket, Key=key)["Retention"]["RetainUntilDate"]

    # an unlocked object: what refuses the archiver here is the policy, not the lock
    archiver.put_object(Bucket=bucket, Key=f"{run}/scratch", Body=b"x")
    scratch = archiver.head_object(Bucket=bucket, Key=f"{run}/scratch")["VersionId"]
    _denied(lambda: archiver.delete_object(Bucket=bucket, Key=f"{run}/scratch", VersionId=scratch))
    _denied(lambda: archiver.delete_object(Bucket=bucket, Key=f"{run}/scratch"))
    _denied(lambda: archiver.delete_object(Bucket=bucket, Key=key, VersionId=version))
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=12)}
    _denied(lambda: archiver.put_object_retention(Bucket=bucket, Key=key, Retention=shorter))
    hold = {"Status": "ON"}
    _denied(lambda: archiver.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold=hold))
    _denied(lambda: archiver.put_bucket_policy(Bucket=bucket, Policy="{}"))
    _denied(lambda: archiver.delete_bucket_policy(Bucket=bucket))
    _denied(
        lambda: archiver.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
        )
    )
    _denied(lambda: archiver.create_bucket(Bucket=f"lp-own-{run}"))
    # the other region: it reads the checkpoints it cross-witnesses, and writes nothing there
    away = _client(cfg, other, f"archiver-{region}")
    away.list_objects_v2(Bucket=_bucket(other))
    _denied(lambda: away.put_object(Bucket=_bucket(other), Key=f"{run}/x", Body=b"x"))

    # readers never write, delete or hold
    for role in s3iam.READERS:
        reader = _client(cfg, region, role)
        reader.get_object(Bucket=bucket, Key=key)
        _denied(lambda r=reader: r.put_object(Bucket=bucket, Key=f"{run}/v", Body=b"x"))
        _denied(lambda r=reader: r.delete_object(Bucket=bucket, Key=key, VersionId=version))
        _denied(lambda r=reader: r.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold=hold))

    # the lifecycle admin: legal hold, retention (longer only: COMPLIANCE), purge of what the
    # lock no longer protects; it cannot shorten a COMPLIANCE retention either
    life = _client(cfg, region, "lifecycle")
    life.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold=hold)
    life.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": "OFF"})
    longer = {"Mode": "COMPLIANCE", "RetainUntilDate": until + timedelta(days=1)}
    life.put_object_retention(Bucket=bucket, Key=key, Retention=longer)
    with pytest.raises(ClientError):
        life.put_object_retention(Bucket=bucket, Key=key, Retention=shorter)
    life.delete_object(Bucket=bucket, Key=f"{run}/scratch", VersionId=scratch)
    with pytest.raises(ClientError):
        life.delete_object(Bucket=bucket, Key=key, VersionId=version)  # still locked
    assert datetime.now(UTC) < until
