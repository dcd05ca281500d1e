"""Helpers of the replay integration tests: generated events produced through the SDK."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.events.jsonform import format_ts
from pipeline.kafka.config import KafkaConnection
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator
from pipeline.settings import Settings


def generated(n: int, seed: int) -> list[dict[str, Any]]:
    return list(itertools.islice(EventGenerator(seed=seed).events(), n))


def produce_now(
    settings: Settings, topic: str, docs: list[dict[str, Any]], spool: Path
) -> list[dict[str, Any]]:
    """Produce ``docs`` with ``ts`` set to the time each is emitted; returns them as sent."""
    conn = KafkaConnection(bootstrap_servers=settings.kafka_bootstrap, client_id="replay-tests")
    config = ProducerConfig(
        kafka=conn,
        registry_url=settings.registry_url,
        service="replay-tests",
        topic=topic,
        spool_dir=spool,
        scrub=False,  # the events as sent are what a replay must give back, byte for byte
    )
    sent = []
    with AuditProducer(config) as producer:
        for doc in docs:
            doc = {**doc, "ts": format_ts(datetime.now(UTC))}
            producer.emit_event(doc)
            sent.append(doc)
        assert producer.flush(60) == 0
    return sent
