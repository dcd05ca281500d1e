"""Settings of the health/metrics server (``AUDITPIPE_HEALTH__*``): the model lives in
``pipeline.settings`` (the one place settings are defined and read) and is re-exported here."""

from __future__ import annotations

from pipeline.settings import HealthConfig

__all__ = ["HealthConfig"]
