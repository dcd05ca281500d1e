"""Assemble and run the router stage from settings (``auditpipe run router``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server

from pipeline.errors import RetryableError
from pipeline.kafka.admin import TopicSpec, ensure_topics_waiting
from pipeline.kafka.topics import pipeline_topics, spec_for, table_for
from pipeline.ops.stage import serve_stage
from pipeline.route.config import KafkaReceiver, load_routing
from pipeline.route.delivery import ROUTER_SERVICE
from pipeline.route.metrics import RouterMetrics
from pipeline.route.stage import RouterOptions, RouterStage
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def topics_for(settings: Settings, stage: RouterStage) -> list[TopicSpec]:
    """The pipeline's topics plus the router's: one per ``kafka`` receiver, and the raw topic
    its delivery audit events go to."""
    t = settings.topics
    extra = [
        TopicSpec(r.topic_name, t.partitions, t.replication_factor)
        for r in stage.config.receivers
        if isinstance(r, KafkaReceiver)
    ]
    audit = stage.options.audit_topic or f"audit.raw.{ROUTER_SERVICE}"
    table = table_for(settings)  # read once for both
    extra.append(spec_for(settings, audit, table=table))
    return [*pipeline_topics(settings, table), *extra]


def run(
    settings: Settings,
    config_path: Path,
    options: RouterOptions,
    *,
    metrics_port: int | None = None,
) -> None:
    """Run until SIGTERM/SIGINT. Receiver secrets are read from the environment here (the
    names come from the routing file); a missing one stops the start-up."""
    registry = CollectorRegistry()
    stage = RouterStage(
        settings, load_routing(config_path), os.environ, options, RouterMetrics(registry)
    )
    ensure_topics_waiting(stage.conn, topics_for(settings, stage))
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
    serve_stage("router", settings, options.group_id, registry)  # /healthz /readyz /metrics

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stage.run(stop)

    asyncio.run(main())
    if stage.failed:
        raise RetryableError("the router stopped after a failure (see the log); restart it")
