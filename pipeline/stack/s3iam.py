"""S3 least privilege with versitygw's own accounts and bucket policies (issue 12).

With ``AUDITPIPE_STACK__S3_IAM=true`` each region's versitygw runs its internal IAM
(``--iam-dir``) and admin API (``--admin-port``, the S3 port + ``s3_admin_port_offset``), and
``stack up`` (:func:`provision`) creates, in every region:

- one account per role, versitygw role ``user`` (no bucket creation, no admin API):
  ``archiver-<region>`` for each region, ``lifecycle``, ``verifier``, ``analyst``;
- the archive bucket ``<bucket_prefix>-<region>`` with Object Lock, created by the root
  account, and a bucket policy (:func:`bucket_policy`) that grants each role its actions only:

  =====================  =================================================================
  role                   actions on the bucket and its objects
  =====================  =================================================================
  archiver (own region)  put objects with their COMPLIANCE retention, read and list them
                         (its chain, checkpoints, intents)
  archiver (other)       read and list (the checkpoints it cross-witnesses)
  lifecycle              read, list versions, retention, legal hold, delete versions (purge)
  verifier, analyst      read and list only
  =====================  =================================================================

The credentials go to ``.stack/secure/s3/<role>.env`` (owner-only; ``AUDITPIPE_S3_ACCESS_KEY_ID``
and ``AUDITPIPE_S3_SECRET_ACCESS_KEY`` lines, the same for every region), for ``set -a; .
FILE``. The root account (``AUDITPIPE_STACK__S3_ACCESS_KEY_ID``) keeps everything.

What versitygw enforces (tested in tests/integration/test_s3_least_privilege.py): a ``user``
account can do only what a bucket policy grants it (deny by default, per action, per
principal): the archiver cannot delete an object or a version, set a legal hold, change
retention, create buckets or change the policy, versioning or lock configuration; the
verifier cannot write. What it lacks, or we cannot express: writing an object with an
Object Lock retention needs ``s3:PutObjectRetention`` (as on AWS), so the archiver may also
*extend* the retention of an object it can see (COMPLIANCE mode refuses every shortening, for
every account, root included); no policy conditions on retention days; accounts and policies
live per gateway (per region), not in a shared IAM; no session or temporary credentials.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.errors import StackError
from pipeline.stack.config import StackConfig

log = logging.getLogger(__name__)

READ = ["s3:GetObject", "s3:ListBucket", "s3:GetObjectRetention", "s3:GetObjectLegalHold",
        "s3:GetBucketObjectLockConfiguration", "s3:GetBucketVersioning"]  # fmt: skip
#: the archiver of the bucket's region: write-once puts with their retention, and reads
ARCHIVER_WRITE = ["s3:PutObject", "s3:PutObjectRetention"]
LIFECYCLE = ["s3:ListBucketVersions", "s3:GetObjectVersion", "s3:PutObjectRetention",
             "s3:PutObjectLegalHold", "s3:DeleteObject", "s3:DeleteObjectVersion",
             "s3:PutObject"]  # fmt: skip
READERS = ("verifier", "analyst")


def roles(cfg: StackConfig) -> list[str]:
    """Every S3 role of the stack."""
    return [*(f"archiver-{r.name}" for r in cfg.s3_regions), "lifecycle", *READERS]


def bucket_policy(bucket: str, region: str, cfg: StackConfig, keys: dict[str, str]) -> str:
    """The policy of ``region``'s archive bucket; ``keys`` maps each role to its access key."""

    def allow(role: str, actions: Iterable[str]) -> dict[str, Any]:
        return {
            "Effect": "Allow",
            "Principal": {"AWS": [keys[role]]},
            "Action": sorted(set(actions)),
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        }

    statements = [
        allow(f"archiver-{r.name}", READ + (ARCHIVER_WRITE if r.name == region else []))
        for r in cfg.s3_regions
    ]
    statements.append(allow("lifecycle", READ + LIFECYCLE))
    statements += [allow(role, READ) for role in READERS]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def admin_endpoint(cfg: StackConfig, region: str, offset: int | None = None) -> str:
    port = next(r.port for r in cfg.s3_regions if r.name == region)
    return f"http://{cfg.host}:{port + (cfg.s3_admin_port_offset if offset is None else offset)}"


def iam_args(cfg: StackConfig, region: str, region_dir: Path) -> list[str]:
    """versitygw's global options for its internal IAM and admin API (none when it is off)."""
    if not cfg.s3_iam:
        return []
    host_port = admin_endpoint(cfg, region).removeprefix("http://")
    return ["--iam-dir", str(region_dir / "iam"), "--admin-port", host_port]


def prepare(cfg: StackConfig, region_dir: Path) -> None:
    """The IAM directory versitygw expects to exist (owner-only: it holds the secrets)."""
    if cfg.s3_iam:
        (region_dir / "iam").mkdir(parents=True, exist_ok=True, mode=0o700)


def credentials_dir(cfg: StackConfig) -> Path:
    return cfg.root / "secure" / "s3"


def credentials_file(cfg: StackConfig, role: str) -> Path:
    return credentials_dir(cfg) / f"{role}.env"


def read_credentials(path: Path) -> tuple[str, str]:
    """(access key id, secret) of a role's ``.env`` file."""
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return values["AUDITPIPE_S3_ACCESS_KEY_ID"], values["AUDITPIPE_S3_SECRET_ACCESS_KEY"]


def _role_keys(cfg: StackConfig) -> dict[str, tuple[str, str]]:
    """Each role's credentials: from its file, or new (written owner-only)."""
    out: dict[str, tuple[str, str]] = {}
    credentials_dir(cfg).mkdir(parents=True, exist_ok=True, mode=0o700)
    for role in roles(cfg):
        path = credentials_file(cfg, role)
        if not path.is_file():
            key = f"{role}-{secrets.token_hex(4)}"
            text = (
                f"AUDITPIPE_S3_ACCESS_KEY_ID={key}\n"
                f"AUDITPIPE_S3_SECRET_ACCESS_KEY={secrets.token_hex(20)}\n"
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        out[role] = read_credentials(path)
    return out


def _admin(cfg: StackConfig, region: str, *args: str) -> str:
    """Run ``versitygw admin`` against ``endpoint`` as the root account (its credentials in the
    environment, never on the command line)."""
    env = {
        **os.environ,
        "ADMIN_ACCESS_KEY_ID": cfg.s3_access_key_id,
        "ADMIN_SECRET_ACCESS_KEY": cfg.s3_secret_access_key.get_secret_value(),
        "ADMIN_REGION": region,
    }
    done = subprocess.run(
        [str(cfg.versitygw_bin), "admin", "--endpoint-url", admin_endpoint(cfg, region), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise StackError(
            f"versitygw admin {args[0]} failed: {done.stderr.strip()[-300:]}", service="s3"
        )
    return done.stdout


def ensure_accounts(cfg: StackConfig, region: str, keys: dict[str, tuple[str, str]]) -> int:
    """Create the accounts missing on one region's gateway (role ``user``); returns how many."""
    listed = _admin(cfg, region, "list-users")
    existing = {line.split()[0] for line in listed.splitlines()[2:] if line.strip()}
    created = 0
    for _role, (key, secret) in keys.items():
        if key in existing:
            continue
        # the new account's secret is an argument of the admin tool (local stack only)
        _admin(cfg, region, "create-user", "--access", key, "--secret", secret, "--role", "user")
        created += 1
    return created


def provision(cfg: StackConfig, bucket_prefix: str) -> dict[str, tuple[str, str]]:
    """Accounts, archive buckets and bucket policies in every region (idempotent); returns each
    role's credentials."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    keys = _role_keys(cfg)
    for region in cfg.s3_regions:
        ensure_accounts(cfg, region.name, keys)
        s3 = boto3.client(
            "s3",
            endpoint_url=cfg.s3_endpoint(region.name),
            region_name=region.name,
            aws_access_key_id=cfg.s3_access_key_id,
            aws_secret_access_key=cfg.s3_secret_access_key.get_secret_value(),
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )
        bucket = f"{bucket_prefix}-{region.name}"
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
            if region.name != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region.name}
            s3.create_bucket(**kwargs)
        access = {role: key for role, (key, _) in keys.items()}
        s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, region.name, cfg, access))
        log.info("S3 roles provisioned", extra={"region": region.name, "bucket": bucket})
    return keys
