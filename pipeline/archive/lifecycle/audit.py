"""LIFECYCLE audit events of the archive's own actions (legal hold, purge, retention changes).

They go through the SDK (``AuditProducer``) to the raw topic ``audit.raw.auditpipe-archive``
(created if missing), so they are scrubbed, enriched and archived like every other event. The
producer never loses one: if the broker is down the event waits in the on-disk spool.
"""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pipeline.archive.lifecycle.regions import AuditSink
from pipeline.errors import RetryableError
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "auditpipe-archive"
CATEGORY = "LIFECYCLE"


def operator() -> str:
    """The OS account running the command (from the password database, not the environment)."""
    return pwd.getpwuid(os.getuid()).pw_name


@contextmanager
def lifecycle_audit(
    settings: Settings, actor: str, *, topic: str | None = None
) -> Iterator[AuditSink]:
    """An ``AuditSink`` emitting LIFECYCLE events as ``actor``; flushed when the block ends."""
    conn = clients.connection(settings, SERVICE)
    config = ProducerConfig(
        kafka=conn, registry_url=settings.registry_url, service=SERVICE, topic=topic
    )
    spec = TopicSpec(
        config.default_topic, settings.topics.partitions, settings.topics.replication_factor
    )
    try:
        ensure_topics(conn, [spec], timeout=10)
    except RetryableError as exc:  # broker down: the producer spools until it is back
        log.warning("audit topic not ensured", extra={"topic": spec.name, "error": str(exc)})
    producer = AuditProducer(config)

    def emit(action: str, outcome: str, details: Mapping[str, str]) -> None:
        producer.emit(
            category=CATEGORY,
            action=action,
            outcome=outcome,
            actor={"id": actor, "type": "user"},
            target={"type": "archive", "id": details.get("region", "") or "archive"},
            details={k: v for k, v in details.items() if v != ""},
        )

    try:
        yield emit
    finally:
        producer.close()
