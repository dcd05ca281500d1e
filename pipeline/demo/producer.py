"""The demo producer of `auditpipe run all --demo-producer`: generated service traffic at a
steady rate, stamped with the wall clock, plus the demo's incidents every so often (so the
detector alerts and the router notifies while it runs)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.demo.incidents import incidents
from pipeline.events.jsonform import format_ts
from pipeline.kafka import clients
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topics import spec_for
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def paced(rate: float, start: float, sent: int) -> float:
    """Seconds to wait before the next event so that ``sent`` events took ``sent / rate`` s
    since ``start`` (0: no wait; ``rate`` 0: as fast as possible)."""
    if rate <= 0:
        return 0.0
    return max(0.0, start + sent / rate - time.monotonic())


def traffic(seed: int) -> Iterator[dict[str, Any]]:
    """Generated events with ``ts`` = now."""
    for doc in EventGenerator(seed=seed).events():
        yield {**doc, "ts": format_ts(datetime.now(UTC))}


def producer_config(
    settings: Settings, conn: KafkaConnection, topic: str, spool: str
) -> ProducerConfig:
    """The SDK settings of the demo's services (spool under ``.stack/demo/<spool>``)."""
    return ProducerConfig(
        kafka=conn,
        registry_url=settings.registry_url,
        service="demo-services",
        environment="demo",
        topic=topic,
        spool_dir=settings.stack.root / "demo" / spool,
    )


def run_producer(
    settings: Settings,
    stop: threading.Event,
    *,
    topic: str,
    rate: float,
    events: int,
    incident_every: float,
) -> int:
    """Produce until ``stop`` is set or ``events`` generated events were sent (0: no limit);
    incidents first, then every ``incident_every`` seconds (0: none). The number acknowledged."""
    conn = clients.connection(settings, "auditpipe-demo-producer")
    ensure_topics(conn, [spec_for(settings, topic)])
    config = producer_config(settings, conn, topic, "spool-producer")
    source = traffic(int(time.time()))
    run = uuid.uuid4().hex[:6]
    with AuditProducer(config) as producer:
        start, sent = time.monotonic(), 0
        next_incident = start if incident_every > 0 else float("inf")
        while not stop.is_set() and (events == 0 or sent < events):
            if time.monotonic() >= next_incident:
                now = datetime.now(UTC)
                for doc in incidents(
                    f"mallory{run}{int(now.timestamp())}", now - timedelta(minutes=2)
                ):
                    producer.emit_event(doc)
                next_incident += incident_every
                log.info("incidents produced")
            producer.emit_event(next(source))
            sent += 1
            wait = paced(rate, start, sent)
            if wait:
                stop.wait(wait)
        producer.flush(60)
        return producer.stats().delivered
