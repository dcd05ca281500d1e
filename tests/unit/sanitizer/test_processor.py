"""The sanitizer's per-record logic (no broker; the registry is confluent-kafka's mock://)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Message

from pipeline.enrich.catalog import load_catalog
from pipeline.enrich.enricher import Enricher
from pipeline.enrich.geo import IptoccLookup
from pipeline.events import jsonform
from pipeline.events.dlq import DlqKey, decrypt_raw
from pipeline.events.schemas import AUDIT_EVENT, DLQ_ENVELOPE, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.sanitizer.processor import SanitizerProcessor

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = parsed_schema(AUDIT_EVENT)
KEY = DlqKey("k1", os.urandom(32))
EMAIL = "alice@example.com"
NOW = datetime(2026, 11, 1, 10, 5, tzinfo=UTC)  # the golden event's ts + 5 minutes


def toy_scrub(datum: dict[str, Any]) -> dict[str, Any]:
    """Stand-in for the scrubber: pseudonymizes actor.id only."""
    pseudo = "ps:test:" + hashlib.sha256(datum["actor"]["id"].encode()).hexdigest()[:16]
    return {**datum, "actor": {**datum["actor"], "id": pseudo}}


@pytest.fixture
def setup() -> tuple[SanitizerProcessor, AvroSerde, AvroSerde]:
    client = registry_client("mock://sanitizer-test")
    events = AvroSerde(client, AUDIT_EVENT)
    dlq = AvroSerde(client, DLQ_ENVELOPE)
    enricher = Enricher(load_catalog(ROOT / "rules" / "services.yaml"), IptoccLookup())
    proc = SanitizerProcessor(
        events_serde=events,
        dlq_serde=dlq,
        enrich=enricher.enrich,
        scrub=toy_scrub,
        dlq_key=KEY,
        events_topic="audit.events",
        dlq_topic="audit.dlq",
        clock=lambda: NOW,
    )
    return proc, events, dlq


def _raw_event(events: AvroSerde, event_id: str | None = None) -> bytes:
    golden = orjson.loads((ROOT / "tests" / "golden" / "audit_event.json").read_bytes())
    golden["actor"]["id"] = EMAIL
    golden.pop("pipeline")
    if event_id is not None:
        golden["event_id"] = event_id
    return events.serialize(jsonform.from_json(SCHEMA, golden), "audit.raw.billing")


def _msg(value: bytes, offset: int = 3) -> Message:
    return Message(
        topic="audit.raw.billing",
        partition=0,
        offset=offset,
        key=EMAIL.encode(),
        value=value,
        timestamp=(1, 1_793_000_000_000),
    )


def test_valid_record_is_enriched_scrubbed_and_keyed_by_pseudonym(setup: Any) -> None:
    proc, events, _ = setup
    [out] = proc.process(_msg(_raw_event(events)))
    assert out.topic == "audit.events"
    assert EMAIL.encode() not in out.value
    assert out.key is not None
    assert out.key.startswith(b"ps:test:")
    datum = events.deserialize(out.value, "audit.events")
    assert datum["pipeline"]["enrichment"]["team"] == "billing"
    assert datum["pipeline"]["received_ts"].year == 2026
    assert datum["request_id"] == "4c1f9a6e-2b5d-4f3a-8e7c-9d0b1a2c3e4f"
    assert proc.counters.events_out == 1


@pytest.mark.parametrize(
    "value", [b"", b"\x00\x00", b'{"json": "not avro"}', b"\x00\x00\x00\x00\x01\xff\xff"]
)
def test_undecodable_records_become_encrypted_dead_letters(setup: Any, value: bytes) -> None:
    proc, events, dlq = setup
    _raw_event(events)  # registers schema id 1 so the last case reaches the decoder
    [out] = proc.process(_msg(value + EMAIL.encode(), offset=9))
    assert out.topic == "audit.dlq"
    assert EMAIL.encode() not in out.value
    letter = dlq.deserialize(out.value, "audit.dlq")
    assert letter["error_type"] == "DeserializationError"
    assert letter["source_offset"] == 9
    assert letter["source_topic"] == "audit.raw.billing"
    assert decrypt_raw({"k1": KEY}, letter) == value + EMAIL.encode()
    assert proc.counters.dead_letters == {"DeserializationError": 1}


def test_a_failing_scrub_dead_letters_without_the_exception_text(setup: Any) -> None:
    proc, events, dlq = setup

    def broken(datum: dict[str, Any]) -> dict[str, Any]:
        raise ValueError(f"cannot handle {datum['actor']['id']}")

    proc.scrub = broken
    [out] = proc.process(_msg(_raw_event(events)))
    letter = dlq.deserialize(out.value, "audit.dlq")
    assert letter["error_type"] == "ProcessingError"
    assert letter["reason"] == "processing_failed: ValueError while enriching/scrubbing/encoding"
    assert letter["headers"] == {"reason_code": "processing_failed"}
    assert EMAIL not in letter["reason"]


def test_metrics_count_in_out_and_dead_letters_by_type(setup: Any) -> None:
    from prometheus_client import CollectorRegistry

    from pipeline.sanitizer.metrics import SanitizerMetrics

    proc, events, _ = setup
    registry = CollectorRegistry()
    proc.metrics = SanitizerMetrics(registry)
    proc.process(_msg(_raw_event(events)))
    proc.process(_msg(b"garbage"))
    assert registry.get_sample_value("auditpipe_sanitizer_events_in_total") == 2
    assert registry.get_sample_value("auditpipe_sanitizer_events_out_total") == 1
    assert (
        registry.get_sample_value(
            "auditpipe_sanitizer_dead_letters_total",
            {"error_type": "DeserializationError", "reason": "no_schema_id"},
        )
        == 1
    )
    exposition = str(registry.collect())
    assert EMAIL not in exposition


def test_fast_encoder_writes_the_serdes_exact_bytes(setup: Any) -> None:
    from pipeline.sanitizer.processor import FastEncoder

    _, events, _ = setup
    golden = orjson.loads((ROOT / "tests" / "golden" / "audit_event.json").read_bytes())
    datum = jsonform.from_json(SCHEMA, golden)
    encode = FastEncoder(events, "audit.events")
    first, second = encode(datum), encode(datum)  # through the serde, then direct
    assert first == second == events.serialize(datum, "audit.events")
    assert events.deserialize(second, "audit.events") == datum


def test_redaction_metrics_count_each_kind_through_cached_children(setup: Any) -> None:
    from prometheus_client import CollectorRegistry

    from pipeline.sanitizer.metrics import SanitizerMetrics

    proc, events, _ = setup

    def remarks(datum: dict[str, Any]) -> dict[str, Any]:
        out = toy_scrub(datum)
        out["pipeline"] = {
            **out["pipeline"],
            "scrub": [{"field": "details.note", "kind": "email", "treatment": "redact"}] * 2,
        }
        return out

    registry = CollectorRegistry()
    proc.metrics = SanitizerMetrics(registry)
    proc.scrub = remarks
    for i in range(3):
        proc.process(_msg(_raw_event(events, f"e{i}")))
    labels = {"kind": "email", "treatment": "redact"}
    assert registry.get_sample_value("auditpipe_sanitizer_redactions_total", labels) == 6
