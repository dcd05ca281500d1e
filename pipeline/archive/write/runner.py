"""Assemble and run one region's streaming archiver from settings."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError
from prometheus_client import CollectorRegistry

from pipeline.archive.format.keys import load_private_key
from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.lifecycle.retention import load_retention
from pipeline.archive.write.batcher import BatchLimits
from pipeline.archive.write.stream import ArchiverStage, ArchiverStats
from pipeline.archive.write.witness import WitnessWatcher
from pipeline.errors import ConfigError
from pipeline.kafka import clients
from pipeline.kafka.startup import wait_for
from pipeline.ops.stage import archiver_samplers, serve_stage
from pipeline.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


def witness_watcher(settings: Settings, region: str, prefix: str = "") -> WitnessWatcher | None:
    """A watcher of the other region's checkpoints (the first other configured region)."""
    other = next((r for r in settings.s3_regions if r != region), None)
    if other is None:
        return None
    s3 = s3_client(settings, other, timeout_s=2)
    store = S3ObjectLockStore(s3, settings.archive.bucket(other), prefix)
    return WitnessWatcher(store, other, settings.topics.events)


def wait_for_bucket(
    s3: S3Client, bucket: str, region: str, *, cap_s: float = 10.0, give_up_s: float | None = None
) -> None:
    """Make sure the Object Lock bucket exists, waiting for a region that cannot be reached.

    A worker (re)started while its region is down waits here, backing off up to ``cap_s``,
    instead of exiting at once (found by the e2e run: an archiver restarted during an S3
    outage exited with an internal error, and a supervisor restarted it in a loop). An
    answer from S3 that is an error (access denied, bad bucket) still stops the start-up.
    ``give_up_s`` bounds the wait (None: until the region answers)."""
    wait_for(
        lambda: ensure_object_lock_bucket(s3, bucket, region),
        (BotoCoreError,),  # no answer: connection refused, timeouts
        what=f"S3 region {region}",
        cap_s=cap_s,
        give_up_s=give_up_s,
    )


def build_stage(
    settings: Settings,
    region: str,
    *,
    group_id: str | None = None,
    prefix: str = "",
    witness: bool = True,
) -> ArchiverStage:
    """One region's archiver; ``prefix`` puts the archive under a key prefix of the bucket."""
    cfg = settings.archive
    if cfg.signing_key is None:
        raise ConfigError(
            "no archive signing key: create one with `auditpipe keys generate --out DIR` and set "
            "AUDITPIPE_ARCHIVE__SIGNING_KEY to the private key's path"
        )
    s3 = s3_client(settings, region, timeout_s=5)
    bucket = cfg.bucket(region)
    wait_for_bucket(s3, bucket, region)
    store = S3ObjectLockStore(s3, bucket, prefix, retention_days=cfg.retention_days)
    return ArchiverStage(
        clients.connection(settings, f"archiver-{region}"),
        store,
        load_private_key(cfg.signing_key),
        topic=settings.topics.events,
        region=region,
        limits=BatchLimits(max_events=cfg.batch_events, max_age_s=cfg.batch_age_s),
        checkpoint_interval_s=cfg.checkpoint_interval_s,
        group_id=group_id,
        retention=load_retention(settings.rules_dir / "retention.yaml"),
        witness=witness_watcher(settings, region, prefix) if witness else None,
    )


def run(
    settings: Settings,
    region: str,
    *,
    group_id: str | None = None,
    prefix: str = "",
    witness: bool = True,
) -> ArchiverStats:
    """Run until SIGTERM/SIGINT; open batches are written and checkpointed before exit."""
    stage = build_stage(settings, region, group_id=group_id, prefix=prefix, witness=witness)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping: writing open batches first", extra={"signal": signum})
        stage.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    log.info("archiver started", extra={"region": region, "topic": settings.topics.events})
    registry = CollectorRegistry()  # /healthz /readyz /metrics (checkpoint age per region)
    samplers = archiver_samplers(
        registry, region, lambda: stage.stats.batches, lambda: stage.stats.checkpoints
    )
    group = group_id or f"auditpipe-archiver-{region}"
    serve_stage(f"archiver-{region}", settings, group, registry, samplers)
    return stage.run()
