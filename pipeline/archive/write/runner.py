"""Assemble and run one region's streaming archiver from settings: the events source
(``audit.events``) and, unless ``AUDITPIPE_ARCHIVE__ALERTS=false``, the alerts source
(``audit.alerts`` recorded as audit events, see ``alerts``), each its own stage and consumer
group in one process."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import BotoCoreError
from prometheus_client import CollectorRegistry

from pipeline.archive.format.keys import load_private_key
from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.lifecycle.retention import load_retention
from pipeline.archive.write.alerts import AlertRecorder, alerts_retention
from pipeline.archive.write.batcher import BatchLimits
from pipeline.archive.write.stream import ArchiverStage, ArchiverStats
from pipeline.archive.write.witness import WitnessWatcher
from pipeline.errors import ConfigError
from pipeline.events.serde import GenericAvroDecoder, registry_client
from pipeline.kafka import clients
from pipeline.kafka.startup import wait_for
from pipeline.ops.stage import archiver_samplers, serve_stage
from pipeline.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

Source = Literal["events", "alerts"]
ALERTS_GROUP_SUFFIX = ".alerts"


def witness_watcher(
    settings: Settings, region: str, prefix: str = "", topic: str | None = None
) -> WitnessWatcher | None:
    """A watcher of the other region's checkpoints (the first other configured region)."""
    other = next((r for r in settings.s3_regions if r != region), None)
    if other is None:
        return None
    s3 = s3_client(settings, other, timeout_s=2)
    store = S3ObjectLockStore(s3, settings.archive.bucket(other), prefix)
    return WitnessWatcher(store, other, topic or settings.topics.events)


def group_of(region: str, group_id: str | None, source: Source) -> str:
    """The consumer group of a region's source (the alerts source: the events group + .alerts)."""
    group = group_id or f"auditpipe-archiver-{region}"
    return group + ALERTS_GROUP_SUFFIX if source == "alerts" else group


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
    source: Source = "events",
) -> ArchiverStage:
    """One region's archiver of ``source``; ``prefix`` puts the archive under a key prefix of
    the bucket."""
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
    retention = load_retention(settings.rules_dir / "retention.yaml")
    topic = settings.topics.events
    transform = None
    if source == "alerts":
        topic = settings.topics.alerts
        retention = alerts_retention(retention)
        decoder = GenericAvroDecoder(registry_client(settings.registry_url))
        transform = AlertRecorder(decoder, topic, cfg.alerts_environment)
    return ArchiverStage(
        clients.connection(settings, f"archiver-{region}"),
        store,
        load_private_key(cfg.signing_key),
        topic=topic,
        region=region,
        limits=BatchLimits(max_events=cfg.batch_events, max_age_s=cfg.batch_age_s),
        checkpoint_interval_s=cfg.checkpoint_interval_s,
        group_id=group_of(region, group_id, source),
        retention=retention,
        witness=witness_watcher(settings, region, prefix, topic) if witness else None,
        transform=transform,
    )


def run(
    settings: Settings,
    region: str,
    *,
    group_id: str | None = None,
    prefix: str = "",
    witness: bool = True,
) -> ArchiverStats:
    """Run until SIGTERM/SIGINT; open batches are written and checkpointed before exit. The
    alerts source (when on) runs in a thread beside; the events stage's stats are returned."""
    stage = build_stage(settings, region, group_id=group_id, prefix=prefix, witness=witness)
    alerts = None
    if settings.archive.alerts:
        alerts = build_stage(
            settings, region, group_id=group_id, prefix=prefix, witness=witness, source="alerts"
        )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping: writing open batches first", extra={"signal": signum})
        stage.stop()
        if alerts is not None:
            alerts.stop()

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
    if alerts is None:
        return stage.run()
    failed: list[BaseException] = []

    def run_alerts() -> None:
        assert alerts is not None
        try:
            alerts.run()
        except BaseException as exc:  # never die silently: stop the process with it
            log.exception("the alerts source failed; stopping", extra={"region": region})
            failed.append(exc)
            stage.stop()

    beside = threading.Thread(target=run_alerts, name=f"archiver-{region}-alerts", daemon=True)
    beside.start()
    try:
        stats = stage.run()
    finally:
        alerts.stop()
        beside.join()
    if failed:
        raise failed[0]
    return stats
