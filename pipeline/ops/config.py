"""Settings of the health/metrics server (``AUDITPIPE_HEALTH__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthConfig(BaseModel):
    """Where each stage serves ``/healthz``, ``/readyz`` and ``/metrics``.

    Loopback and off by default (a developer's machine runs several stages side by side); the
    container image sets ``AUDITPIPE_HEALTH__HOST=0.0.0.0`` and ``AUDITPIPE_HEALTH__PORT=9400``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", min_length=1, description="bind address")
    port: int = Field(default=0, ge=0, le=65535, description="0: no server")
    probe_interval_s: float = Field(
        default=5.0, gt=0, description="seconds between looks at the broker and the group"
    )
    stall_after_s: float = Field(
        default=120.0,
        gt=0,
        description="not ready when the group has lag and its committed offsets did not move "
        "for this long; not live after three times this",
    )
