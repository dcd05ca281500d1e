"""The one call a stage's runner makes: serve health, readiness and metrics for its group."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Gauge

from pipeline.kafka.config import KafkaConnection
from pipeline.ops.health import HealthServer, serve
from pipeline.ops.probe import GroupProbe, ProgressAge
from pipeline.settings import Settings


def serve_stage(
    stage: str,
    settings: Settings,
    group: str,
    registry: CollectorRegistry | None = None,
    samplers: Sequence[Callable[[], object]] = (),
) -> HealthServer | None:
    """``/healthz``, ``/readyz``, ``/metrics`` of ``stage`` on ``settings.health`` (off when
    its port is 0). Readiness and lag come from the broker's view of ``group``."""
    if settings.health.port == 0:
        return None
    registry = registry or CollectorRegistry()
    conn = KafkaConnection(bootstrap_servers=settings.kafka_bootstrap, client_id=stage)
    probe = GroupProbe(conn, group, registry, timeout_s=min(3.0, settings.health.probe_interval_s))
    return serve(stage, settings.health, registry, probe, samplers)


def archiver_samplers(
    registry: CollectorRegistry,
    region: str,
    batches: Callable[[], int],
    checkpoints: Callable[[], int],
) -> list[Callable[[], object]]:
    """The archiver's metrics: batches and checkpoints written, and the age of the last
    checkpoint (seconds since the count last grew; from start-up until the first one)."""
    labels = {"region": region}
    Gauge("auditpipe_archiver_batches", "batches written", ["region"], registry=registry).labels(
        **labels
    ).set_function(lambda: float(batches()))
    Gauge(
        "auditpipe_archiver_checkpoints", "checkpoints written", ["region"], registry=registry
    ).labels(**labels).set_function(lambda: float(checkpoints()))
    age = Gauge(
        "auditpipe_archiver_checkpoint_age_seconds",
        "seconds since this region's archiver last wrote a checkpoint",
        ["region"],
        registry=registry,
    ).labels(**labels)
    return [ProgressAge(checkpoints, age).sample]
