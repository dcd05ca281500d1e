"""Alerts in the long-term archive: each ``audit.alerts`` record as an audit event.

``audit.alerts`` expires with its topic retention, so every archiver also runs an alerts
source (``runner.build_stage(..., source="alerts")``): a second archiver stage on
``audit.alerts`` in its own consumer group (``auditpipe-archiver-<region>.alerts``) whose
records are rewritten, one for one, into ``audit_event`` bodies (category ``SYSTEM``, action
``alert.raised``, service ``auditpipe-detector``; the alert's fields under ``details``). The
archive keeps them under the topic ``audit.alerts`` with the alert's own Kafka offsets, so
``verify`` checks their chain, offset coverage, checkpoints and freshness like the events', and
``--compare`` finds both regions identical (the rewrite is a pure function of the record:
``event_id`` is a UUIDv5 of the ``alert_id``, no clock is read). Alerts come from scrubbed
events only, so nothing here needs scrubbing.

Archived alerts take the retention class of the archive's metadata (rules/retention.yaml
``metadata``, security: 24 months), whatever the category's class: a detection is kept as long
as the proofs around it.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from typing import Any

import fastavro

from pipeline.archive.lifecycle.retention import Retention
from pipeline.errors import DeserializationError, InvalidEventError
from pipeline.events import jsonform
from pipeline.events.jsonform import format_ts
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from pipeline.events.serde import GenericAvroDecoder

SERVICE = "auditpipe-detector"
ACTION = "alert.raised"
_NAMESPACE = uuid.UUID("6f1c2a2e-4b1d-5c8e-9a57-2d0c6b1e7a31")  # auditpipe alerts
_LISTS = ("sample_event_ids", "request_ids", "trace_ids", "tags")
_TIMES = ("window_start", "window_end", "first_event_ts", "last_event_ts")
_TEXT = ("alert_id", "rule_id", "title", "severity", "dedup_key", "runbook", "service", "team")


def alert_event_id(alert_id: str) -> str:
    """The archived event's id: the same alert gives the same id in every region and run."""
    return str(uuid.uuid5(_NAMESPACE, alert_id))


def alert_event(alert: dict[str, Any], environment: str) -> dict[str, Any]:
    """The JSON form of the audit event recording ``alert`` (a decoded ``alert`` datum, of any
    version of the schema: only ``alert_id``, ``rule_id`` and ``ts`` are required)."""
    details: dict[str, str] = {k: str(alert[k]) for k in _TEXT if alert.get(k) is not None}
    if alert.get("count") is not None:
        details["count"] = str(alert["count"])
    for k in _TIMES:
        if alert.get(k) is not None:
            details[k] = format_ts(alert[k])
    for k in _LISTS:
        if alert.get(k):
            details[k] = ",".join(alert[k])
    details.update({f"group.{k}": str(v) for k, v in sorted((alert.get("group") or {}).items())})
    details.update({f"alert.{k}": str(v) for k, v in sorted((alert.get("details") or {}).items())})
    traces = alert.get("trace_ids") or []
    return {
        "event_id": alert_event_id(alert["alert_id"]),
        "ts": format_ts(alert["ts"]),
        "service": SERVICE,
        "environment": environment,
        "category": "SYSTEM",
        "action": ACTION,
        "outcome": "SUCCESS",
        "actor": {"id": SERVICE, "type": "service"},
        "target": {"type": "detection_rule", "id": alert["rule_id"]},
        "request_id": alert["alert_id"],
        "trace_id": traces[0] if traces else None,
        "details": details,
    }


class AlertRecorder:
    """Confluent-framed ``alert`` records -> Avro bodies of ``audit_event`` (the archiver's
    transform for ``audit.alerts``). Each record is read with its own writer schema (an alert
    written under an older ``alert`` schema is archived too). Raises ``DeserializationError``
    for a record that is not an alert (the archiver counts it as skipped)."""

    def __init__(self, decoder: GenericAvroDecoder, topic: str, environment: str) -> None:
        self.decoder = decoder
        self.topic = topic
        self.environment = environment
        self.schema = parsed_schema(AUDIT_EVENT)
        self.writer_schema = fastavro.parse_schema(raw_schema(AUDIT_EVENT))

    def __call__(self, value: bytes) -> bytes:
        try:
            _, alert = self.decoder.decode(value)
            if not isinstance(alert, dict):
                raise TypeError("not a record")
            datum = jsonform.from_json(self.schema, alert_event(alert, self.environment))
        except (KeyError, TypeError, AttributeError, ValueError, InvalidEventError) as exc:
            raise DeserializationError(
                f"alert not recordable: {type(exc).__name__}", topic=self.topic
            ) from None
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.writer_schema, datum)
        return buf.getvalue()


def alerts_retention(retention: Retention) -> Retention:
    """``retention`` with every category in the metadata class (see the module doc)."""
    return dataclasses.replace(
        retention, by_index=tuple(retention.metadata_class for _ in retention.symbols)
    )
