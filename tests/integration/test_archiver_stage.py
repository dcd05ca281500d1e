"""The streaming archiver on the real stack: both regions complete, verify clean and hold the
same events (``verify --compare``), also when one region's S3 server is stopped mid-run and
comes back."""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.verify.compare import Side, compare
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.batcher import BatchLimits
from pipeline.archive.write.stream import ArchiverStage
from pipeline.archive.write.witness import WitnessWatcher
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from pipeline.stack import manager, procs
from pipeline.stack.services import S3Service
from tests.integration.archive_events import produce

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration
REGIONS = ["us-east-1", "eu-central-1"]


def test_two_regions_archive_everything_through_an_outage(
    stack: Settings, kafka_conn: KafkaConnection
) -> None:
    if stack.uses_external_services:
        pytest.skip("the outage needs the local stack")
    run = uuid.uuid4().hex[:8]
    topic = f"t{run}.events"
    ensure_topics(kafka_conn, [TopicSpec(topic, 3)])
    n = 20_000
    produce(kafka_conn, topic, n)

    signer = Signer.generate()
    clients: dict[str, S3Client] = {r: s3_client(stack, r, timeout_s=2) for r in REGIONS}
    stages: dict[str, ArchiverStage] = {}
    stores: dict[str, S3ObjectLockStore] = {}
    for region in REGIONS:
        bucket = f"auditpipe-test-archive-{region}"
        ensure_object_lock_bucket(clients[region], bucket, region)
        stores[region] = S3ObjectLockStore(clients[region], bucket, prefix=run, retention_days=1)
    threads = []
    for region in REGIONS:
        other = next(r for r in REGIONS if r != region)
        store = stores[region]
        stages[region] = ArchiverStage(
            kafka_conn,
            store,
            signer,
            topic=topic,
            region=region,
            limits=BatchLimits(max_events=1000, max_age_s=1.0),
            checkpoint_interval_s=2.0,
            group_id=f"archiver-{run}-{region}",
            witness=WitnessWatcher(stores[other], other, topic, interval_s=1.0),
        )
        threads.append(threading.Thread(target=stages[region].run, daemon=True))

    # one region goes down before the archivers start, and comes back mid-run
    down = S3Service(stack.stack, next(r for r in stack.stack.s3_regions if r.name == REGIONS[1]))
    procs.stop(down.spec())
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while stages[REGIONS[0]].stats.events_archived < n and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stages[REGIONS[0]].stats.events_archived == n, "the healthy region was held up"
    # (not "archived nothing": another session's stack fixture may restart the server early)
    assert stages[REGIONS[1]].stats.store_retries > 0
    manager.up(stack.stack)
    deadline = time.monotonic() + 180
    while stages[REGIONS[1]].stats.events_archived < n and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.5)  # a checkpoint after the last batch
    for stage in stages.values():
        stage.stop()
    for t in threads:
        t.join(60)

    keyring = Keyring([signer.public_key()])
    for region, stage in stages.items():
        assert stage.stats.events_archived == n, region
        report = verify(stage.store, keyring)
        assert report.ok, f"{region}: {[str(p) for p in report.problems[:5]]}"
        assert report.summary.events == n
        assert report.summary.partitions == 3
    result = compare(*(Side(r, stores[r]) for r in REGIONS))
    assert result.ok, [str(p) for p in result.problems[:5]]
    assert result.partitions == 3
    assert result.witnesses > 0  # the checkpoints name each other's
