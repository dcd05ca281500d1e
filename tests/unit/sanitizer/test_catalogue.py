"""The bad-input catalogue through the sanitizer's per-record logic (mock:// registry, no broker):
each entry becomes a dead letter with its reason code, a duplicate is dropped and counted, and
the clock-skew watch raises one deterministic SYSTEM alert per service and window.
(tests/integration/test_bad_input_catalogue.py runs the same catalogue on the real stack.)"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Message

from pipeline.enrich.catalog import load_catalog
from pipeline.enrich.enricher import Enricher
from pipeline.enrich.geo import IptoccLookup
from pipeline.events.dlq import REASON_HEADER, DlqKey, Reason
from pipeline.events.schemas import ALERT, AUDIT_EVENT, DLQ_ENVELOPE
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.sanitizer.dedup import RecentIds
from pipeline.sanitizer.processor import SanitizerProcessor, SkewSink
from pipeline.sanitizer.skew import RULE_ID, SkewWatch
from pipeline.settings import SanitizerConfig
from tests.harness.bad_input import Case, catalogue, encode, event

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
CLIENTS: dict[str, Any] = {}
LIMITS = SanitizerConfig(
    max_event_bytes=16 * 1024,
    max_field_bytes=2048,
    max_entries=50,
    skew_ahead_s=60,
    skew_behind_s=300,
)


def _processor(name: str) -> tuple[SanitizerProcessor, AvroSerde, AvroSerde, AvroSerde]:
    client = registry_client(f"mock://{name}")
    CLIENTS[name] = client
    events, dlq, alerts = (AvroSerde(client, s) for s in (AUDIT_EVENT, DLQ_ENVELOPE, ALERT))
    catalog = load_catalog(ROOT / "rules" / "services.yaml")
    watch = SkewWatch(LIMITS, frozenset(catalog.services))
    proc = SanitizerProcessor(
        events_serde=events,
        dlq_serde=dlq,
        enrich=Enricher(catalog, IptoccLookup()).enrich,
        scrub=lambda d: d,
        dlq_key=DlqKey("k1", os.urandom(32)),
        events_topic="audit.events",
        dlq_topic="audit.dlq",
        config=LIMITS,
        skew=SkewSink(watch, alerts, "audit.alerts"),
        clock=lambda: NOW,
    )
    return proc, events, dlq, alerts


def _msg(value: bytes, key: bytes | None, offset: int, when: datetime = NOW) -> Message:
    ms = int(when.timestamp() * 1000)
    return Message(
        topic="audit.raw.x", partition=0, offset=offset, key=key, value=value, timestamp=(1, ms)
    )


def _cases() -> tuple[SanitizerProcessor, AvroSerde, list[Case]]:
    proc, events, dlq, _ = _processor("catalogue")
    return proc, dlq, catalogue(CLIENTS["catalogue"], events, "audit.raw.x", NOW, LIMITS, "u")


def test_every_catalogue_entry_gets_its_reason_and_the_next_good_record_passes() -> None:
    proc, dlq, cases = _cases()
    assert {c.code for c in cases} >= {r.value for r in Reason} - {
        "invalid_event",
        "processing_failed",
    }
    for i, case in enumerate(cases):
        outs = proc.process(_msg(case.value, case.key, 2 * i))
        if case.code is None:
            assert outs == [], case.name
        elif case.code == "ok":
            assert [o.topic for o in outs] == ["audit.events"], case.name
        else:
            [out] = outs
            assert out.topic == "audit.dlq", case.name
            letter = dlq.deserialize(out.value, "audit.dlq")
            assert letter["headers"][REASON_HEADER] == case.code, (case.name, letter["reason"])
            assert letter["reason"].startswith(f"{case.code}: "), letter["reason"]
            assert b"4111" not in out.value
        after = encode(proc.events_serde, event(f"after-{i}", NOW), "audit.raw.x")
        [ok] = proc.process(_msg(after, b"actor-1", 2 * i + 1))
        assert ok.topic == "audit.events", case.name
    assert proc.counters.duplicates == 2


def test_reasons_never_quote_the_writer_schema_nor_the_value() -> None:
    proc, dlq, cases = _cases()
    for i, case in enumerate(cases):
        for out in proc.process(_msg(case.value, case.key, i)):
            if out.topic == "audit.dlq":
                reason = dlq.deserialize(out.value, "audit.dlq")["reason"]
                for secret in ("yesterday", "4111", "hostile-", "@@@@"):
                    assert secret not in reason


def test_a_writer_schema_verdict_is_cached_per_schema_id() -> None:
    proc, _, cases = _cases()
    [deep] = [c for c in cases if c.code == "too_deep"]
    calls = 0
    client = CLIENTS["catalogue"]
    real = client.get_schema

    def counting(schema_id: int) -> Any:
        nonlocal calls
        calls += 1
        return real(schema_id)

    client.get_schema = counting
    for i in range(5):
        proc.process(_msg(deep.value, deep.key, i))
    assert calls == 1


def test_recent_ids_are_per_partition_and_bounded() -> None:
    ids = RecentIds(window=3)
    d = [RecentIds.digest(f"e{i}") for i in range(5)]
    for x in d[:4]:
        ids.add("t", 0, x)
    assert not ids.seen("t", 0, d[0])  # pushed out of the window
    assert ids.seen("t", 0, d[3])
    assert not ids.seen("t", 1, d[3])
    off = RecentIds(window=0)
    off.add("t", 0, d[0])
    assert not off.seen("t", 0, d[0])


def _skewed(proc: SanitizerProcessor, events: AvroSerde, service: str, lag: timedelta, n: int,
            start: int) -> list[Any]:  # fmt: skip
    outs = []
    for i in range(n):
        doc = event(f"{service}-{start + i}", NOW - lag, service=service)
        outs += proc.process(_msg(encode(events, doc, "audit.raw.x"), b"a", start + i))
    return outs


def test_clock_skew_raises_one_deterministic_system_alert_per_service_and_window() -> None:
    proc, events, _, alerts = _processor("skew")
    outs = _skewed(proc, events, "billing-api", timedelta(minutes=10), 6, 0)
    raised = [o for o in outs if o.topic == "audit.alerts"]
    assert len(raised) == 1  # the third event judges the window; later ones do not repeat it
    alert = alerts.deserialize(raised[0].value, "audit.alerts")
    assert alert["rule_id"] == RULE_ID
    assert alert["details"]["direction"] == "behind"
    assert alert["details"]["category"] == "SYSTEM"
    assert alert["group"] == {"service": "billing-api"}
    assert raised[0].key == alert["dedup_key"].encode()
    # a second worker (or a restart) raises the very same alert for that window
    again, events2, _, _ = _processor("skew2")
    second = [o for o in _skewed(again, events2, "billing-api", timedelta(minutes=10), 3, 0)
              if o.topic == "audit.alerts"]  # fmt: skip
    assert alerts.deserialize(second[0].value, "audit.alerts")["alert_id"] == alert["alert_id"]
    ahead = _skewed(proc, events, "auth-service", -timedelta(minutes=10), 3, 10)
    [up] = [alerts.deserialize(o.value, "audit.alerts") for o in ahead if o.topic == "audit.alerts"]
    assert up["details"]["direction"] == "ahead"
    assert up["alert_id"] != alert["alert_id"]


def test_clock_skew_ignores_lag_when_one_event_of_the_window_is_on_time() -> None:
    proc, events, _, _ = _processor("lag")
    outs = _skewed(proc, events, "billing-api", timedelta(seconds=1), 1, 0)
    outs += _skewed(proc, events, "billing-api", timedelta(minutes=10), 5, 1)
    assert [o for o in outs if o.topic == "audit.alerts"] == []


def test_skew_metric_labels_only_catalogued_services() -> None:
    from prometheus_client import CollectorRegistry

    from pipeline.sanitizer.metrics import SanitizerMetrics

    registry = CollectorRegistry()
    metrics = SanitizerMetrics(registry)
    watch = SkewWatch(LIMITS, frozenset({"billing-api"}), metrics.clock_skew)
    for service in ("billing-api", "alice@example.com", *(f"svc-{i}" for i in range(50))):
        doc = {"service": service, "ts": NOW - timedelta(minutes=5), "event_id": "e"}
        watch.observe({**doc, "request_id": "r"}, NOW)
    text = str(registry.collect())
    assert "alice@example.com" not in text
    assert "svc-1" not in text
    sample = registry.get_sample_value
    assert sample("auditpipe_sanitizer_clock_skew_seconds", {"service": "billing-api"}) == 300
    assert sample("auditpipe_sanitizer_clock_skew_seconds", {"service": "other"}) == 300


def test_tracked_services_are_bounded() -> None:
    watch = SkewWatch(SanitizerConfig(skew_max_services=4), frozenset())
    for i in range(100):
        doc = {"service": f"s{i}", "ts": NOW, "event_id": "e", "request_id": "r"}
        watch.observe(doc, NOW)
    assert len(watch._windows) == 4


def test_an_unreachable_registry_is_raised_for_a_retry_not_dead_lettered() -> None:
    from pipeline.errors import RegistryUnavailableError

    proc, events, _, _ = _processor("down")
    value = encode(events, event("e", NOW), "audit.raw.x")
    fresh = AvroSerde(registry_client("http://127.0.0.1:1"), AUDIT_EVENT)
    proc.events_serde = fresh
    with pytest.raises(RegistryUnavailableError):
        proc.process(_msg(value, b"a", 1))
    assert proc.counters.dead_letters == {}


def test_old_data_is_not_clock_skew() -> None:
    """A replay or fixed-date test data (35 days old) is past skew_max_s: no alert."""
    proc, events, _, _ = _processor("old")
    outs = _skewed(proc, events, "billing-api", timedelta(days=35), 5, 0)
    assert [o.topic for o in outs] == ["audit.events"] * 5


@pytest.mark.parametrize("size", [300, 20_000])  # the one-call path of small values, the walk
def test_guard_finds_a_nul_on_both_paths_and_names_its_place(size: int) -> None:
    from pipeline.errors import InvalidEventError
    from pipeline.events import jsonform
    from pipeline.events.schemas import parsed_schema
    from pipeline.sanitizer.guard import Guard

    guard = Guard(SanitizerConfig())
    schema = parsed_schema(AUDIT_EVENT)
    clean = jsonform.from_json(schema, event("e", NOW, details={"a": "b", "c": "d"}))
    guard.check_event(clean, NOW, size)
    for details, where in (({"a": "b", "c": "x\x00"}, "details[1]"), ({"k\x00": "v"}, "(key)")):
        bad = jsonform.from_json(schema, event("e", NOW, details=details))
        with pytest.raises(InvalidEventError, match=r"^nul_byte: ") as caught:
            guard.check_event(bad, NOW, size)
        assert where in caught.value.reason


def test_an_unreachable_registry_when_encoding_is_not_the_events_fault() -> None:
    from pipeline.errors import RegistryUnavailableError
    from pipeline.sanitizer.processor import FastEncoder

    proc, events, _, _ = _processor("down-encode")
    value = encode(events, event("e", NOW), "audit.raw.x")
    proc._encode = FastEncoder(AvroSerde(registry_client("http://127.0.0.1:1"), AUDIT_EVENT), "t")
    with pytest.raises(RegistryUnavailableError):
        proc.process(_msg(value, b"a", 1))
    assert proc.counters.dead_letters == {}


def test_by_default_ten_minutes_behind_is_delivery_delay_but_ahead_is_a_clock() -> None:
    """The demo's traffic is stamped 10 minutes in the past; a clock ahead cannot be a delay."""
    watch = SkewWatch(SanitizerConfig(), frozenset())
    for i in range(5):
        doc = {"service": "s", "ts": NOW - timedelta(minutes=10), "event_id": f"e{i}"}
        assert watch.observe({**doc, "request_id": "r"}, NOW) is None
    raised = [
        watch.observe({"service": "t", "ts": NOW + timedelta(minutes=10), "event_id": f"f{i}",
                       "request_id": "r"}, NOW)
        for i in range(3)
    ]  # fmt: skip
    assert raised[2] is not None
    assert raised[2]["details"]["threshold_s"] == "120"
