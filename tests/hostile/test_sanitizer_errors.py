"""The sanitizer's reasons never echo input (issue 16): a record a hostile producer wrote with
its own writer schema (an enum symbol that is a secret) is dead-lettered with a reason, and
neither the reason, the log line nor the DLQ envelope's reason quotes the symbol.
(The sanitizer's per-record logic with confluent-kafka's mock:// registry, no broker.)"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest
from confluent_kafka import Message
from confluent_kafka.schema_registry import Schema

from pipeline.enrich.catalog import load_catalog
from pipeline.enrich.enricher import Enricher
from pipeline.enrich.geo import IptoccLookup
from pipeline.events import jsonform
from pipeline.events.dlq import DlqKey
from pipeline.events.schemas import AUDIT_EVENT, DLQ_ENVELOPE, parsed_schema, raw_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.sanitizer.processor import SanitizerProcessor

ROOT = Path(__file__).resolve().parents[2]
SECRET = "AKIAIOSFODNN7SENTINEL"


def test_a_hostile_writer_schema_is_dead_lettered_without_echo(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = registry_client("mock://hostile-sanitizer")
    events, dlq = AvroSerde(client, AUDIT_EVENT), AvroSerde(client, DLQ_ENVELOPE)
    proc = SanitizerProcessor(
        events_serde=events,
        dlq_serde=dlq,
        enrich=Enricher(load_catalog(ROOT / "rules" / "services.yaml"), IptoccLookup()).enrich,
        scrub=lambda d: d,
        dlq_key=DlqKey("k1", os.urandom(32)),
        events_topic="audit.events",
        dlq_topic="audit.dlq",
    )
    # the producer's writer schema: the category enum gains a symbol that is a secret
    writer: dict[str, Any] = orjson.loads(orjson.dumps(raw_schema(AUDIT_EVENT)))
    for f in writer["fields"]:
        if f["name"] == "category":
            f["type"]["symbols"].append(SECRET)
    schema_id = client.register_schema(
        "hostile-value", Schema(orjson.dumps(writer).decode(), "AVRO")
    )
    golden = orjson.loads((ROOT / "tests" / "golden" / "audit_event.json").read_bytes())
    golden.pop("pipeline")
    datum = jsonform.from_json(parsed_schema(AUDIT_EVENT), golden)
    datum["category"] = SECRET
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(writer), datum)
    value = b"\x00" + schema_id.to_bytes(4, "big") + buf.getvalue()
    msg = Message(topic="audit.raw.x", partition=0, offset=1, value=value, timestamp=(1, 1))
    with caplog.at_level(logging.DEBUG):
        [out] = proc.process(msg)
    assert out.topic == "audit.dlq"
    envelope = dlq.deserialize(out.value, "audit.dlq")
    assert "cannot decode Avro value" in envelope["reason"]
    assert SECRET not in envelope["reason"]
    assert SECRET not in caplog.text
    assert "dead-lettered" in caplog.text
