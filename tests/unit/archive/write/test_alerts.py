"""The alerts source's rewrite is a pure function of the record (both regions archive the same
bytes) and keeps alerts for the metadata class."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro

from pipeline.archive.format.body import peek_id_ts
from pipeline.archive.lifecycle.retention import load_retention
from pipeline.archive.write.alerts import alert_event, alert_event_id, alerts_retention
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema

ROOT = Path(__file__).resolve().parents[4]
NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def _alert(**over: Any) -> dict[str, Any]:
    return {
        "alert_id": "al-1",
        "rule_id": "admin.break_glass",
        "title": "break-glass opened",
        "severity": "CRITICAL",
        "ts": NOW,
        "group": {"actor.id": "ps:k1:abc"},
        "count": 1,
        "window_start": None,
        "window_end": None,
        "first_event_ts": NOW - timedelta(seconds=1),
        "last_event_ts": NOW,
        "sample_event_ids": ["e1", "e2"],
        "request_ids": [],
        "trace_ids": [],
        "dedup_key": "d",
        "runbook": None,
        "tags": [],
        "service": None,
        "team": "security",
        "details": {},
        **over,
    }


def _body(doc: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    datum = jsonform.from_json(parsed_schema(AUDIT_EVENT), doc)
    fastavro.schemaless_writer(buf, fastavro.parse_schema(raw_schema(AUDIT_EVENT)), datum)
    return buf.getvalue()


def test_the_same_alert_gives_the_same_bytes_and_id() -> None:
    a, b = _body(alert_event(_alert(), "prod")), _body(alert_event(_alert(), "prod"))
    assert a == b
    assert peek_id_ts(a)[0] == alert_event_id("al-1") != alert_event_id("al-2")
    doc = alert_event(_alert(), "prod")
    assert doc["details"]["sample_event_ids"] == "e1,e2"
    assert "runbook" not in doc["details"]
    assert "window_start" not in doc["details"]
    assert doc["trace_id"] is None


def test_archived_alerts_take_the_metadata_class() -> None:
    retention = load_retention(ROOT / "rules" / "retention.yaml")
    assert retention.class_of("SYSTEM") == "verbose"
    kept = alerts_retention(retention)
    body = _body(alert_event(_alert(), "prod"))
    assert kept.classify([body], NOW) == retention.metadata_class == "security"
