"""SDK produce throughput: AuditProducer.emit_event (validate + Avro + produce) to the broker."""

from __future__ import annotations

import itertools
import tempfile
import time
import uuid
from pathlib import Path

from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator
from pipeline.settings import Settings


def bench_sdk(settings: Settings, n: int) -> dict[str, float]:
    conn = clients.connection(settings, "bench-sdk")
    topic = f"bench.sdk.{uuid.uuid4().hex[:8]}"
    ensure_topics(conn, [TopicSpec(topic, partitions=3)])
    docs = list(itertools.islice(EventGenerator(seed=1).events(), n))  # not timed
    try:
        with tempfile.TemporaryDirectory() as spool:
            config = ProducerConfig(
                kafka=conn,
                registry_url=settings.registry_url,
                service="bench-sdk",
                topic=topic,
                spool_dir=Path(spool),
            )
            with AuditProducer(config) as producer:
                producer.emit_event(docs[0])  # warm-up: schema id, producer id, metadata
                producer.flush(30)
                cpu0 = time.process_time()
                t0 = time.perf_counter()
                for doc in docs[1:]:
                    producer.emit_event(doc)
                producer.flush(60)
                wall = time.perf_counter() - t0
                cpu = time.process_time() - cpu0
                stats = producer.stats()
    finally:
        delete_topics(conn, [topic])
    return {
        "events": n - 1,
        "events_per_s": (n - 1) / wall,
        "events_per_cpu_s": (n - 1) / max(cpu, 1e-9),
        "us_per_event_cpu": cpu / (n - 1) * 1e6,
        "delivered": stats.delivered - 1,
    }
