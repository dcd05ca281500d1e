"""Archive throughput: batch build + Merkle + sign + write, and verification, on a FileStore.

Events are pre-encoded Avro bodies (not timed; 20k distinct generated events, cycled). The
archiver path timed is the streaming one without Kafka: ``Batcher.add`` per record (which peeks
``event_id``/``ts``), then per batch the OCF (zstd level 1), Merkle root, manifest, Ed25519
signature and write-once puts, each batch its own flush (intent, batch, checkpoint). "per core"
divides by the process's CPU time. The verifier is measured single-process (per core) and with
one process per CPU (wall clock).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.format.store import FileStore
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.batcher import Batcher, BatchLimits
from pipeline.archive.write.flush import write_flush
from pipeline.archive.write.importer import Encoder
from pipeline.archive.write.stream import ArchiverStage, ArchiverStats
from pipeline.archive.write.writer import ArchiveWriter
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.produce.generator import EventGenerator
from pipeline.settings import Settings

DISTINCT = 20_000


def _bodies(n: int) -> list[bytes]:
    enc = Encoder()
    docs = itertools.islice(EventGenerator(seed=1).events(), min(n, DISTINCT))
    distinct = [enc.encode(orjson.dumps(d)) for d in docs]
    return list(itertools.islice(itertools.cycle(distinct), n))


def bench_archive(n: int, batch_size: int = 10_000) -> dict[str, float]:
    bodies = _bodies(n)
    signer = Signer.generate()
    with tempfile.TemporaryDirectory() as tmp:
        store = FileStore(Path(tmp) / "archive")
        writer = ArchiveWriter.open(
            store, signer, "audit.events", raw_schema(AUDIT_EVENT), schema_text(AUDIT_EVENT)
        )
        batcher = Batcher("audit.events", BatchLimits(max_events=batch_size))
        batches = 0

        cpu0, t0 = time.process_time(), time.perf_counter()
        now = time.monotonic()
        for offset, body in enumerate(bodies):
            for batch in batcher.add(0, offset, 1, body, now):
                write_flush(writer, [batch])  # intent, batch, checkpoint
                batches += 1
        write_flush(writer, batcher.flush())
        archive_wall, archive_cpu = time.perf_counter() - t0, time.process_time() - cpu0

        keyring = Keyring([signer.public_key()])
        cpu1, t1 = time.process_time(), time.perf_counter()
        report = verify(store, keyring)
        verify_wall, verify_cpu = time.perf_counter() - t1, time.process_time() - cpu1
        if not report.ok:
            raise AssertionError(f"benchmark archive does not verify: {report.problems[:3]}")

        jobs = os.cpu_count() or 1
        t2 = time.perf_counter()
        parallel = verify(store, keyring, jobs=jobs)
        parallel_wall = time.perf_counter() - t2
        if not parallel.ok:
            raise AssertionError("benchmark archive does not verify in parallel")
        stored = sum(p.stat().st_size for p in Path(store.root).rglob("*") if p.is_file())
    raw = sum(map(len, bodies))
    return {
        "events": n,
        "event_bytes": raw / n,
        "compression_ratio": raw / stored,
        "archive_events_per_s": n / archive_wall,
        "archive_events_per_cpu_s": n / archive_cpu,
        "verify_events_per_s": n / verify_wall,
        "verify_events_per_cpu_s": n / verify_cpu,
        "verify_parallel_jobs": jobs,
        "verify_parallel_events_per_s": n / parallel_wall,
    }


class _TimedStage(ArchiverStage):
    """Notes when partitions were assigned (the consumer group join is over)."""

    assigned = 0.0

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned = self.assigned or time.perf_counter()
        super()._on_assign(consumer, partitions)


def bench_archive_s3(settings: Settings, n: int, region: str | None = None) -> dict[str, float]:
    """The streaming archiver from Kafka to one S3 region on loopback, then its verification.

    ``n`` pre-encoded events are produced to a fresh 3-partition topic (not timed); the timed
    part is ``ArchiverStage`` consuming them, batching (10k events), signing, writing to the
    Object-Lock bucket (conditional PUTs with checksums) and checkpointing after every flush,
    until the archive covers them (wall time includes the consumer group join; "steady" counts
    from the partition assignment on). "per core" divides by this process's CPU time (librdkafka's
    threads included; the S3 server's own CPU is not). Then ``verify`` reads the archive back
    from S3 (one process).
    """
    region = region or next(iter(settings.s3_regions))
    conn = clients.connection(settings, "bench-archive")
    run = uuid.uuid4().hex[:8]
    topic = f"bench.events.{run}"
    ensure_topics(conn, [TopicSpec(topic, 3)])
    try:
        producer = clients.producer(conn, {"linger.ms": 20})
        for i, body in enumerate(_bodies(n)):
            while True:
                try:
                    producer.produce(topic, key=str(i % 97), value=b"\x00\x00\x00\x00\x01" + body)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(60)
        s3 = s3_client(settings, region, timeout_s=10)
        bucket = f"auditpipe-bench-archive-{region}"
        ensure_object_lock_bucket(s3, bucket, region)
        store = S3ObjectLockStore(s3, bucket, prefix=run, retention_days=1)
        signer = Signer.generate()

        def on_batch(stats: ArchiverStats) -> None:
            if stats.events_archived >= n:
                stage.stop()

        stage = _TimedStage(
            conn,
            store,
            signer,
            topic=topic,
            region=region,
            limits=BatchLimits(max_events=10_000, max_age_s=0.5),
            group_id=f"bench-archiver-{run}",
            on_batch=on_batch,
        )
        cpu0, t0 = time.process_time(), time.perf_counter()
        stats = stage.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        steady = n / (time.perf_counter() - stage.assigned) if stage.assigned else 0.0
        if stats.events_archived != n:
            raise AssertionError(f"archived {stats.events_archived} of {n}")
        keyring = Keyring([signer.public_key()])
        cpu1, t1 = time.process_time(), time.perf_counter()
        report = verify(store, keyring)
        verify_wall, verify_cpu = time.perf_counter() - t1, time.process_time() - cpu1
        if not report.ok or report.summary.events != n:
            raise AssertionError(f"S3 benchmark archive does not verify: {report.problems[:3]}")
    finally:
        delete_topics(conn, [topic])
    return {
        "events": n,
        "batches": stats.batches,
        "checkpoints": stats.checkpoints,
        "archive_s3_events_per_s": n / wall,
        "archive_s3_steady_events_per_s": steady,
        "archive_s3_events_per_cpu_s": n / cpu,
        "verify_s3_events_per_s": n / verify_wall,
        "verify_s3_events_per_cpu_s": n / verify_cpu,
    }


if __name__ == "__main__":
    import sys

    from pipeline.settings import load_settings

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    for name, value in bench_archive(count).items():
        print(f"{name:32s} {value:,.2f}")
    for name, value in bench_archive_s3(load_settings(), count).items():
        print(f"{name:32s} {value:,.2f}")
