"""Replay and trace: events/s from Kafka, events/s from the archive with verification, and the
latency of one trace lookup in an archive of 1M events.

Kafka: ``n`` generated events produced through the SDK (untimed), then one ``replay_kafka`` of
the whole window (seek by time, decode, JSON form, write to /dev/null). Archive: the same kind
of events archived to a file store through the batcher path (untimed), then one
``replay_archive`` of its whole time range (every batch verified: signature, hash, Merkle root,
chain), JSON Lines to /dev/null. Trace: a file-store archive of ``trace_events`` events (one per
86 ms over a day, 100 batches), then lookups of a present and an absent ``trace_id`` over the
whole day. "per core" divides by the process's CPU time.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.batcher import Batcher, BatchLimits
from pipeline.archive.write.flush import write_flush
from pipeline.archive.write.importer import Encoder
from pipeline.archive.write.writer import ArchiveWriter
from pipeline.events.jsonform import format_ts
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator
from pipeline.replay.archive_source import replay_archive
from pipeline.replay.filters import compile_filters
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import JsonlSink, ListSink
from pipeline.replay.trace import narrow
from pipeline.replay.window import Window
from pipeline.settings import Settings

DISTINCT = 20_000
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _docs(n: int, step: timedelta) -> Iterator[dict[str, Any]]:
    base = list(itertools.islice(EventGenerator(seed=1).events(), min(n, DISTINCT)))
    for i, d in enumerate(itertools.islice(itertools.cycle(base), n)):
        yield {
            **d,
            "ts": format_ts(T0 + i * step),
            "event_id": f"bench-{i}",
            "trace_id": f"{i:032x}",
        }


def _archive(root: Path, n: int, step: timedelta, batch: int = 10_000) -> Keyring:
    signer = Signer.generate()
    enc = Encoder()
    store = FileStore(root, fsync=False)
    writer = ArchiveWriter.open(
        store, signer, "audit.events", raw_schema(AUDIT_EVENT), schema_text(AUDIT_EVENT)
    )
    batcher = Batcher("audit.events", BatchLimits(max_events=batch))
    now = time.monotonic()
    group = []
    for offset, doc in enumerate(_docs(n, step)):
        for closed in batcher.add(0, offset, 1, enc.encode(orjson.dumps(doc)), now):
            group.append(closed)
            if len(group) >= 10:
                write_flush(writer, group)
                group = []
    write_flush(writer, group + batcher.flush())
    return Keyring([signer.public_key()])


def bench_replay_archive(n: int = 200_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ring = _archive(Path(tmp) / "a", n, timedelta(seconds=1))
        window = Window(T0, T0 + timedelta(seconds=n))
        with open("/dev/null", "wb") as null:
            cpu0, t0 = time.process_time(), time.perf_counter()
            stats = replay_archive(
                FileStore(Path(tmp) / "a"),
                ring,
                "audit.events",
                window,
                compile_filters([]),
                JsonlSink(null),
            )
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if stats.matched != n or stats.refused:
        raise AssertionError(f"archive replay emitted {stats.matched} of {n}: {stats.refused}")
    return {"events_per_s": n / wall, "events_per_cpu_s": n / max(cpu, 1e-9)}


def bench_trace(n: int = 1_000_000, lookups: int = 5) -> dict[str, float]:
    step = timedelta(days=1) / n
    with tempfile.TemporaryDirectory() as tmp:
        ring = _archive(Path(tmp) / "a", n, step)
        store = FileStore(Path(tmp) / "a")
        window = Window(T0, T0 + timedelta(days=1))
        found_ms: list[float] = []
        absent_ms: list[float] = []
        for i in range(lookups):
            for tid, into in ((f"{(i * 7919) % n:032x}", found_ms), (uuid.uuid4().hex, absent_ms)):
                sink = ListSink()
                t0 = time.perf_counter()
                replay_archive(
                    store,
                    ring,
                    "audit.events",
                    window,
                    narrow(compile_filters([]), tid, None),
                    sink,
                )
                into.append((time.perf_counter() - t0) * 1000)
                if into is found_ms and not sink.events:
                    raise AssertionError("trace lookup found nothing")
    return {
        "events": n,
        "found_p50_ms": statistics.median(found_ms),
        "found_max_ms": max(found_ms),
        "absent_p50_ms": statistics.median(absent_ms),
    }


def bench_replay_kafka(settings: Settings, n: int = 50_000) -> dict[str, float]:
    conn = KafkaConnection(bootstrap_servers=settings.kafka_bootstrap, client_id="bench-replay")
    topic = f"bench.replay.{uuid.uuid4().hex[:8]}"
    ensure_topics(conn, [TopicSpec(topic, partitions=3)])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = ProducerConfig(
                kafka=conn,
                registry_url=settings.registry_url,
                service="bench-replay",
                topic=topic,
                spool_dir=Path(tmp) / "spool",
            )
            start = datetime.now(UTC)
            with AuditProducer(config) as producer:
                for doc in _docs(n, timedelta(0)):
                    producer.emit_event({**doc, "ts": format_ts(datetime.now(UTC))})
                producer.flush(60)
        with open("/dev/null", "wb") as null:
            cpu0, t0 = time.process_time(), time.perf_counter()
            stats = replay_kafka(
                settings, topic, Window(start, None), compile_filters([]), JsonlSink(null)
            )
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        delete_topics(conn, [topic])
    if stats.matched != n:
        raise AssertionError(f"kafka replay emitted {stats.matched} of {n}")
    return {"events_per_s": n / wall, "events_per_cpu_s": n / max(cpu, 1e-9)}
