"""Assemble and run the streaming sanitizer from settings."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from prometheus_client import CollectorRegistry, start_http_server

from pipeline.enrich.enricher import load_enricher
from pipeline.errors import ConfigError
from pipeline.events.dlq import DlqKey
from pipeline.events.schemas import ALERT, AUDIT_EVENT, DLQ_ENVELOPE
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import ensure_topics_waiting
from pipeline.kafka.stage import BatchStage, StageConfig, StageStats
from pipeline.kafka.topics import pipeline_topics
from pipeline.ops.stage import serve_stage
from pipeline.sanitizer.metrics import SanitizerMetrics
from pipeline.sanitizer.processor import SanitizerProcessor, SkewSink, Transform
from pipeline.sanitizer.skew import SkewWatch
from pipeline.settings import Settings

log = logging.getLogger(__name__)

GROUP_ID = "auditpipe-sanitizer"


def dlq_key(settings: Settings) -> DlqKey:
    if settings.dlq_key is None:
        raise ConfigError(
            "no DLQ key: set AUDITPIPE_DLQ_KEY to 64 hex characters (an AES-256 key), e.g. "
            "from `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    try:
        key = bytes.fromhex(settings.dlq_key.get_secret_value())
    except ValueError:
        raise ConfigError("AUDITPIPE_DLQ_KEY must be hex (64 characters)") from None
    return DlqKey(settings.dlq_key_id, key)


def build_processor(
    settings: Settings, scrub: Transform, metrics: SanitizerMetrics | None = None
) -> SanitizerProcessor:
    enricher = load_enricher(settings.rules_dir / "services.yaml", settings.geo_mmdb)
    client = registry_client(settings.registry_url)
    watch = SkewWatch(
        settings.sanitizer,
        frozenset(enricher.catalog.services),
        metrics.clock_skew if metrics is not None else None,
        metrics.skew_alerts if metrics is not None else None,
    )
    return SanitizerProcessor(
        events_serde=AvroSerde(client, AUDIT_EVENT),
        dlq_serde=AvroSerde(client, DLQ_ENVELOPE),
        enrich=enricher.enrich,
        scrub=scrub,
        dlq_key=dlq_key(settings),
        events_topic=settings.topics.events,
        dlq_topic=settings.topics.dlq,
        metrics=metrics,
        config=settings.sanitizer,
        skew=SkewSink(watch, AvroSerde(client, ALERT), settings.topics.alerts),
    )


def run(
    settings: Settings,
    scrub: Transform,
    *,
    metrics_port: int | None = None,
    batch_size: int = 1000,
    group_id: str = GROUP_ID,
    on_batch: Callable[[StageStats], None] | None = None,
) -> StageStats:
    """Run until SIGTERM/SIGINT; the batch in progress is finished and committed first."""
    registry = CollectorRegistry()
    metrics = SanitizerMetrics(registry)
    processor = build_processor(settings, scrub, metrics)
    conn = clients.connection(settings, "auditpipe-sanitizer")
    ensure_topics_waiting(conn, pipeline_topics(settings))
    stage = BatchStage(
        conn,
        StageConfig(group_id=group_id, topics=[settings.topics.raw_pattern], batch_size=batch_size),
        processor,
        on_batch=on_batch,
    )
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
    serve_stage("sanitizer", settings, group_id, registry)  # /healthz /readyz /metrics

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping after the current batch", extra={"signal": signum})
        stage.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    log.info("sanitizer started", extra={"topics": settings.topics.raw_pattern, "group": group_id})
    stats = stage.run()
    log.info("sanitizer stopped", extra={"consumed": stats.consumed, "produced": stats.produced})
    return stats
