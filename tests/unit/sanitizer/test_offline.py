"""`auditpipe enrich` and `auditpipe sanitize`: the offline commands on JSON Lines, and the
proof that `sanitize` is the streaming stage's own transform (same output for the same event)."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Message
from typer.testing import CliRunner

from pipeline.cli.enrich import build_enricher
from pipeline.cli.jsonl import run_lines
from pipeline.cli.main import app
from pipeline.events import jsonform
from pipeline.events.dlq import DlqKey
from pipeline.events.schemas import AUDIT_EVENT, DLQ_ENVELOPE, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.sanitizer.processor import SanitizerProcessor
from pipeline.sanitizer.transform import sanitize
from pipeline.scrub import Scrubber, dev_keys, load_policy

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = parsed_schema(AUDIT_EVENT)
EMAIL = "alice@example.com"
PHONE = "+44 20 7946 0958"
runner = CliRunner()


def _event(**over: Any) -> dict[str, Any]:
    doc = orjson.loads((ROOT / "tests" / "golden" / "audit_event.json").read_bytes())
    doc.pop("pipeline")
    doc["actor"]["id"] = EMAIL
    doc["actor"]["ip"] = "81.2.69.160"  # GB in the bundled database
    doc["actor"].pop("country")
    doc["details"] = {"note": f"call {PHONE} or mail {EMAIL}"}
    doc.update(over)
    return doc


def _lines(*docs: dict[str, Any] | bytes) -> bytes:
    return b"\n".join(d if isinstance(d, bytes) else orjson.dumps(d) for d in docs) + b"\n"


def _out(stdout: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_enrich_adds_catalog_and_geo_and_keeps_everything_else() -> None:
    second = _event(event_id="e-2", service="mystery-svc")
    result = runner.invoke(app, ["enrich"], input=_lines(_event(), second))
    assert result.exit_code == 0, result.output
    first, other = _out(result.stdout_bytes)
    assert [first["event_id"], other["event_id"]] == ["01JD3Z8Q6W4B7V2Y5N1K9M0XRT", "e-2"]
    assert first["pipeline"]["enrichment"]["team"] == "billing"
    assert first["pipeline"]["enrichment"]["geo_country"] == "GB"
    assert first["actor"]["country"] == "GB"
    assert first["pipeline"]["processed_ts"].endswith("Z")
    assert other["pipeline"]["enrichment"]["team"] == "unowned"
    # enrich alone scrubs nothing: the raw values are still there
    assert first["actor"]["id"] == EMAIL
    assert first["actor"]["ip"] == "81.2.69.160"
    assert first["request_id"] == _event()["request_id"]
    assert "enriched 2 events" in result.stderr


def test_sanitize_enriches_on_the_raw_ip_then_scrubs() -> None:
    result = runner.invoke(app, ["sanitize", "--dev-key"], input=_lines(_event()))
    assert result.exit_code == 0, result.output
    [doc] = _out(result.stdout_bytes)
    assert doc["pipeline"]["enrichment"]["geo_country"] == "GB"  # from the raw address
    assert doc["actor"]["ip"] == "81.2.69.0"  # truncated after
    assert doc["actor"]["id"].startswith("ps:dev:")
    assert doc["details"]["note"] == "call [phone] or mail [email]"
    assert doc["pipeline"]["key_version"] == "dev"
    kinds = {(r["field"], r["kind"]) for r in doc["pipeline"]["scrub"]}
    assert {("actor.ip", "ipv4"), ("details.note", "phone"), ("details.note", "email")} <= kinds
    for ident in ("event_id", "request_id", "trace_id", "span_id"):
        assert doc[ident] == _event()[ident]
    assert EMAIL.encode() not in result.stdout_bytes
    assert PHONE.encode() not in result.stdout_bytes


def test_sanitize_reports_bad_lines_by_number_and_goes_on() -> None:
    bad_field = _event(outcome="MAYBE", actor={"id": EMAIL, "type": "robot"})
    stdin = _lines(_event(), b"{not json", bad_field, _event(event_id="e-4"))
    result = runner.invoke(app, ["sanitize", "--dev-key"], input=stdin)
    assert result.exit_code == 3
    assert [d["event_id"] for d in _out(result.stdout_bytes)] == [
        "01JD3Z8Q6W4B7V2Y5N1K9M0XRT",
        "e-4",
    ]
    assert "line 2: rejected: not valid JSON" in result.stderr
    assert "line 3: rejected: " in result.stderr
    assert EMAIL not in result.stderr
    assert "sanitized 2 events, rejected 2 lines" in result.stderr


def test_a_failing_transform_rejects_the_line_without_quoting_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(datum: dict[str, Any]) -> dict[str, Any]:
        if datum["event_id"] == "e-2":
            raise ValueError(f"cannot handle {datum['actor']['id']}")
        return datum

    sink = io.BytesIO()
    source = io.BytesIO(_lines(_event(event_id="e-1"), _event(event_id="e-2")))
    assert run_lines(broken, source, sink) == (1, 1)
    assert [d["event_id"] for d in _out(sink.getvalue())] == ["e-1"]
    err = capsys.readouterr().err
    assert "line 2: rejected: ValueError while processing" in err
    assert EMAIL not in err


@pytest.mark.parametrize("command", [["enrich"], ["sanitize", "--dev-key"]])
def test_a_missing_catalog_stops_before_reading(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, [*command, "--catalog", str(missing)], input=_lines(_event()))
    assert result.exit_code == 2
    assert "service catalog not found" in result.stderr
    assert result.stdout_bytes == b""


def test_sanitize_without_keys_says_how_to_provide_them() -> None:
    result = runner.invoke(app, ["sanitize"], input=_lines(_event()))
    assert result.exit_code == 2
    assert "--keys FILE" in result.stderr


def test_offline_sanitize_equals_the_streaming_processor() -> None:
    """One event through SanitizerProcessor (Avro, as on Kafka) and through `sanitize`: the
    same datum comes out, except the processing time."""
    client = registry_client("mock://offline-equivalence")
    events = AvroSerde(client, AUDIT_EVENT)
    enricher = build_enricher(None, None)
    scrubber = Scrubber(load_policy(), dev_keys())
    proc = SanitizerProcessor(
        events_serde=events,
        dlq_serde=AvroSerde(client, DLQ_ENVELOPE),
        enrich=enricher.enrich,
        scrub=scrubber.scrub,
        dlq_key=DlqKey("k1", os.urandom(32)),
        events_topic="audit.events",
        dlq_topic="audit.dlq",
        clock=lambda: datetime(2026, 11, 1, 10, 5, tzinfo=UTC),  # the golden event's ts + 5 min
    )
    datum = jsonform.from_json(SCHEMA, _event())
    ts_ms = 1_793_000_000_000
    msg = Message(
        topic="audit.raw.billing",
        partition=0,
        offset=1,
        key=b"actor",
        value=events.serialize(datum, "audit.raw.billing"),
        timestamp=(1, ts_ms),
    )
    [out] = proc.process(msg)
    streamed = events.deserialize(out.value, "audit.events")
    received = datetime.fromtimestamp(ts_ms / 1000, UTC)
    offline = sanitize(datum, enrich=enricher.enrich, scrub=scrubber.scrub, received=received)
    for doc in (streamed, offline):
        doc["pipeline"]["processed_ts"] = None
    assert jsonform.to_json(SCHEMA, streamed) == jsonform.to_json(SCHEMA, offline)
    assert streamed["pipeline"]["enrichment"]["geo_country"] == "GB"


def test_sanitize_drops_a_pipeline_block_the_producer_sent() -> None:
    smuggled = _event(
        pipeline={
            "received_ts": "2020-01-01T00:00:00Z",
            "enrichment": {"team": EMAIL, PHONE: "x"},
            "scrub": [{"field": EMAIL, "kind": "email", "treatment": "redact"}],
            "key_version": "k0",
        }
    )
    result = runner.invoke(app, ["sanitize", "--dev-key"], input=_lines(smuggled))
    assert result.exit_code == 0, result.output
    [doc] = _out(result.stdout_bytes)
    assert doc["pipeline"]["enrichment"]["team"] == "billing"  # from the catalog
    assert doc["pipeline"]["key_version"] == "dev"
    assert "received_ts" not in doc["pipeline"] or doc["pipeline"]["received_ts"] is None
    assert EMAIL.encode() not in result.stdout_bytes
    assert PHONE.encode() not in result.stdout_bytes
