"""Archive throughput: batch build + Merkle + sign + write, and verification, on a FileStore.

Events are pre-encoded Avro bodies (not timed; 20k distinct generated events, cycled). The
archiver path timed is the streaming one without Kafka: ``Batcher.add`` per record (which peeks
``event_id``/``ts``), then per batch the OCF (zstd level 1), Merkle root, manifest, Ed25519
signature and three write-once puts, plus a checkpoint per 10 batches. "per core" divides by the
process's CPU time. The verifier is measured single-process (per core) and with one process per
CPU (wall clock).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path

import orjson

from pipeline.archive.batch import Batcher, BatchLimits
from pipeline.archive.importer import Encoder
from pipeline.archive.keys import Keyring, Signer
from pipeline.archive.store import FileStore
from pipeline.archive.verify import verify
from pipeline.archive.writer import ArchiveWriter
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from pipeline.produce.generator import EventGenerator

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
                writer.write_batch(batch)
                batches += 1
                if batches % 10 == 0:
                    writer.checkpoint()
        for batch in batcher.flush():
            writer.write_batch(batch)
        writer.checkpoint()
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


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    for name, value in bench_archive(count).items():
        print(f"{name:32s} {value:,.2f}")
