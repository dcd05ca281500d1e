"""auditpipe's own audit events (reads of the logs, archive lifecycle, break-glass, silence
changes): an ``AuditProducer`` of one of our services with its audit topic ensured."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pipeline.errors import RetryableError
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topics import spec_for
from pipeline.produce.config import ProducerConfig
from pipeline.produce.producer import AuditProducer, DeliveryHook
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@contextmanager
def own_audit_producer(
    settings: Settings,
    conn: KafkaConnection,
    service: str,
    *,
    topic: str | None = None,
    on_delivery: DeliveryHook | None = None,
    broker_required: bool = False,
) -> Iterator[AuditProducer]:
    """An ``AuditProducer`` of ``service`` over ``conn``, closed (flushed, or what the broker
    did not take spooled) when the block ends. Its topic (``topic`` or ``audit.raw.<service>``)
    is ensured first; a broker that is down is only logged (the producer spools until it is
    back) unless ``broker_required``, when it raises."""
    config = ProducerConfig(
        kafka=conn, registry_url=settings.registry_url, service=service, topic=topic
    )
    spec = spec_for(settings, config.default_topic)  # a raw topic: the table's short retention
    try:
        ensure_topics(conn, [spec], timeout=10)
    except RetryableError as exc:
        if broker_required:
            raise
        log.warning("audit topic not ensured", extra={"topic": spec.name, "error": str(exc)})
    with AuditProducer(config, on_delivery=on_delivery) as producer:
        yield producer
