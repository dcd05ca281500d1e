"""The pipeline's own topics and their configuration."""

from __future__ import annotations

from pipeline.kafka.admin import TopicSpec
from pipeline.settings import Settings

DAY_MS = 24 * 3600 * 1000


def pipeline_topics(settings: Settings) -> list[TopicSpec]:
    """audit.events, audit.dlq and audit.alerts with the retention each one needs.

    ``audit.events`` keeps 14 days so that an archiver region that was down can catch up from
    Kafka (the archive issue documents the bound); the DLQ keeps 30 days for investigation
    (its payloads are encrypted); alerts keep 30 days.
    """
    t = settings.topics
    rf = t.replication_factor
    common = {"min.insync.replicas": str(min(2, rf)), "compression.type": "producer"}
    return [
        TopicSpec(t.events, t.partitions, rf, {**common, "retention.ms": str(14 * DAY_MS)}),
        TopicSpec(t.dlq, t.partitions, rf, {**common, "retention.ms": str(30 * DAY_MS)}),
        TopicSpec(t.alerts, t.partitions, rf, {**common, "retention.ms": str(30 * DAY_MS)}),
    ]
