"""Settings of the engine, and the ``auditpipe:`` block that rule files carry.

The block sits at the top level of a Sigma document, where pySigma keeps it as a custom
attribute; pydantic validates it (frozen, unknown keys are errors).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sigma.correlations import SigmaCorrelationTimespan
from sigma.exceptions import SigmaTimespanError


def timespan_seconds(spec: str) -> int:
    """Seconds of a Sigma timespan (``30s``, ``10m``, ``1h``, ``7d``)."""
    return SigmaCorrelationTimespan(spec).seconds


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _check_span(value: str) -> str:
    try:
        timespan_seconds(value)
    except SigmaTimespanError as exc:
        raise ValueError(str(exc)) from None
    return value


class EngineConfig(_Model):
    """Engine-wide settings; a rule's ``auditpipe.alerting`` overrides the alert policy."""

    allowed_lateness_s: float = Field(300.0, ge=0, description="event-time lateness accepted")
    update_interval_s: float = Field(60.0, gt=0, description="least event time between updates")
    update_factor: float = Field(2.0, gt=1, description="an update is due when count grows so")
    sample_size: int = Field(10, ge=1, le=10, description="event ids kept per alert")
    slots: int = Field(10, ge=1, le=60, description="sub-windows of a sliding window")
    expire_every: int = Field(10_000, ge=1, description="events between state expiry sweeps")
    dedup_max: int = Field(
        100_000, ge=1, description="event ids remembered for de-duplication, per engine"
    )
    sweep_interval_s: float = Field(
        30.0, gt=0, description="streaming: wall time between timer-driven expiry sweeps"
    )
    idle_after_s: float = Field(
        60.0,
        gt=0,
        description="streaming: a partition without events this long advances its "
        "watermark with wall time, so its windows close and its state expires",
    )


class Alerting(_Model):
    """Per-rule override of the update policy (see docs in pipeline/detect/alerts.py)."""

    update_interval: str | None = None
    update_factor: float | None = Field(None, gt=1)

    @field_validator("update_interval")
    @classmethod
    def _span(cls, value: str | None) -> str | None:
        return None if value is None else _check_span(value)


class SpikeMeasure(_Model):
    of: str = Field("count", description="'count' (events) or a numeric field to sum")
    factor: float = Field(gt=0, description="window value must reach factor x baseline")
    floor: float = Field(ge=0, description="and at least this much")


class Spike(_Model):
    """Window value >= factor x moving baseline (mean of past windows) and >= floor."""

    group_by: list[str] = Field(default_factory=list, alias="group-by")
    timespan: str
    baseline: int = Field(24, ge=1, le=1000, description="past windows in the moving mean")
    min_history: int = Field(0, ge=0, description="windows a group must have been seen for")
    measures: list[SpikeMeasure] = Field(min_length=1)

    @field_validator("timespan")
    @classmethod
    def _span(cls, value: str) -> str:
        return _check_span(value)


class NewValue(_Model):
    """First time ``field`` takes a value for a group within ``history`` (groups with history)."""

    field: str
    group_by: list[str] = Field(default_factory=list, alias="group-by")
    history: str = "30d"
    window: str = "1h"
    max_values: int = Field(1000, ge=1, description="values remembered per group")

    @field_validator("history", "window")
    @classmethod
    def _span(cls, value: str) -> str:
        return _check_span(value)


class Example(_Model):
    """Events (JSON form, merged over a template) and the number of alerts they must raise."""

    name: str
    alerts: int = Field(ge=0, description="distinct dedup keys this rule must produce")
    events: list[dict[str, Any]] = Field(min_length=1)


class Block(_Model):
    """The ``auditpipe:`` block of a rule document."""

    runbook: str | None = None
    group_by: list[str] = Field(default_factory=list, alias="group-by")
    window: str = Field("1h", description="alert window of a plain match rule")
    alerting: Alerting = Field(default_factory=Alerting)
    spike: Spike | None = None
    new_value: NewValue | None = Field(None, alias="new-value")
    examples: list[Example] = Field(default_factory=list)

    @field_validator("window")
    @classmethod
    def _span(cls, value: str) -> str:
        return _check_span(value)

    @property
    def kind(self) -> Literal["match", "spike", "new_value"]:
        if self.spike is not None:
            return "spike"
        if self.new_value is not None:
            return "new_value"
        return "match"
