"""The pipeline's own topics and their configuration."""

from __future__ import annotations

from pipeline.kafka.admin import TopicSpec
from pipeline.settings import Settings

DAY_MS = 24 * 3600 * 1000


def pipeline_topics(settings: Settings) -> list[TopicSpec]:
    """audit.events, audit.dlq, audit.alerts, the router's input (alerts keyed by rule) and
    its (compacted) silences and state topics, with the retention each one needs.

    ``audit.events`` keeps 14 days so that an archiver region that was down can catch up from
    Kafka (the archive issue documents the bound); the DLQ keeps 30 days for investigation
    (its payloads are encrypted); alerts keep 30 days. Silences and router state are compacted
    (no time limit: the latest record of each key is the current value).
    """
    t = settings.topics
    rf = t.replication_factor
    common = {"min.insync.replicas": str(min(2, rf)), "compression.type": "producer"}
    # silences and the router's state: the last record per key is kept, tombstones deleted
    compacted = {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "0"}
    return [
        TopicSpec(t.events, t.partitions, rf, {**common, "retention.ms": str(14 * DAY_MS)}),
        TopicSpec(t.dlq, t.partitions, rf, {**common, "retention.ms": str(30 * DAY_MS)}),
        TopicSpec(t.alerts, t.partitions, rf, {**common, "retention.ms": str(30 * DAY_MS)}),
        TopicSpec(t.silences, 1, rf, {**common, **compacted}),
        TopicSpec(
            t.router_state,
            t.partitions,
            rf,
            {**common, **compacted, "max.message.bytes": str(16 * 1024 * 1024)},
        ),
        TopicSpec(t.router_in, t.partitions, rf, {**common, "retention.ms": str(7 * DAY_MS)}),
    ]
