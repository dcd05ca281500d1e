from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from pipeline.events.jsonform import from_json
from pipeline.events.schemas import parsed_schema
from pipeline.route.delivery import delivery_event
from pipeline.route.engine import Router
from pipeline.route.grouping import Notification
from pipeline.route.payloads import (
    encode,
    pagerduty_event,
    sign,
    slack_payload,
    ticket_bodies,
    verify,
    webhook_body,
)
from pipeline.route.retry import BreakerRecord, CircuitBreaker, RetryPolicy

from .helpers import BASIC, alert, at, routing

RUNBOOK = "https://runbooks.auditpipe.dev/auth.bruteforce_success"


@pytest.fixture
def note(tmp_path: Path) -> Notification:
    router = Router(routing(tmp_path, BASIC))
    router.ingest(alert(0, severity="CRITICAL", dedup_key="k1", count=12), at(0))
    router.ingest(alert(1, severity="HIGH", dedup_key="k2", count=3), at(1))
    [n] = router.due(at(30))
    return n


def test_webhook_body_carries_group_counts_samples_runbook(note: Notification) -> None:
    body = webhook_body(note)
    assert body["group_labels"] == {"rule_id": "auth.bruteforce_success"}
    assert (body["alert_count"], body["event_count"]) == (2, 15)
    assert body["runbooks"] == [RUNBOOK]
    assert len(body["sample_event_ids"]) == 2
    assert body["severity"] == "CRITICAL"
    assert body["alerts"][0]["dedup_key"] == "k1"  # most severe first


def test_signature_verifies_with_the_secret_only(note: Notification) -> None:
    body = encode(webhook_body(note))
    header = sign(body, "s3cret", 1_790_000_000)
    assert header.startswith("t=1790000000,v1=")
    assert verify(header, body, "s3cret", now=1_790_000_010)
    assert not verify(header, body, "other", now=1_790_000_010)
    assert not verify(header, body + b" ", "s3cret", now=1_790_000_010)
    assert not verify(header, body, "s3cret", now=1_790_001_000)  # too old
    assert not verify("v1=abc", body, "s3cret", now=1_790_000_000)


def test_pagerduty_event_fields(note: Notification) -> None:
    event = pagerduty_event(note, routing_key="R" * 32)
    assert event["routing_key"] == "R" * 32
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == note.dedup_key
    payload = event["payload"]
    assert payload["severity"] == "critical"
    assert payload["source"] == "auditpipe"
    assert payload["summary"].startswith("[FIRING] CRITICAL")
    assert payload["custom_details"]["event_count"] == 15
    assert payload["custom_details"]["group_labels"] == {"rule_id": "auth.bruteforce_success"}
    assert event["links"] == [{"href": RUNBOOK, "text": "Runbook"}]
    resolved = pagerduty_event(
        Notification.decode({**note.encode(), "status": "resolved"}), "R" * 32
    )
    assert resolved == {
        "routing_key": "R" * 32,
        "event_action": "resolve",
        "dedup_key": note.dedup_key,
    }


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("CRITICAL", "critical"),
        ("HIGH", "error"),
        ("MEDIUM", "warning"),
        ("LOW", "info"),
        ("INFO", "info"),
    ],
)
def test_pagerduty_severity_mapping(note: Notification, severity: str, expected: str) -> None:
    changed = Notification.decode({**note.encode(), "severity": severity})
    assert pagerduty_event(changed, "r")["payload"]["severity"] == expected


def test_slack_and_ticket(note: Notification) -> None:
    slack = slack_payload(note, channel="#sec")
    assert slack["channel"] == "#sec"
    assert "auth.bruteforce_success" in slack["text"]
    assert RUNBOOK in orjson.dumps(slack["blocks"]).decode()
    tickets = ticket_bodies(note, project="SEC")
    assert [t["external_id"] for t in tickets] == ["k1", "k2"]
    assert tickets[0]["runbook"] == RUNBOOK
    assert tickets[0]["project"] == "SEC"
    repeat = Notification.decode({**note.encode(), "reason": "repeat", "new_keys": []})
    assert ticket_bodies(repeat) == []  # once per dedup_key


def test_backoff_is_bounded_and_seedable() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=0.5, cap_s=8.0)
    rng = random.Random(7)
    for attempt in range(20):
        for _ in range(50):
            assert 0.0 <= policy.delay(attempt, rng) <= min(8.0, 0.5 * 2**attempt)
    assert [policy.delay(3, random.Random(1)) for _ in range(2)] == [
        policy.delay(3, random.Random(1))
    ] * 2
    assert policy.should_retry(0, 503)
    assert policy.should_retry(0, None)
    assert policy.should_retry(0, 429)
    assert not policy.should_retry(0, 400)
    assert not policy.should_retry(4, 503)  # the fifth attempt was the last


def test_circuit_breaker_transitions() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cool_down_s=30, half_open_max=1)
    for t in range(2):
        assert breaker.allow(t)
        breaker.record_failure(t)
    assert breaker.state(2) == "closed"
    breaker.record_failure(2)
    assert breaker.state(3) == "open"
    assert not breaker.allow(3)
    assert breaker.state(31.9) == "open"
    assert breaker.state(32) == "half_open"
    assert breaker.allow(32)
    assert not breaker.allow(32)
    breaker.record_failure(33)
    assert breaker.state(34) == "open"
    assert breaker.allow(63)
    breaker.record_success(63)
    assert breaker.state(64) == "closed"
    saved = orjson.loads(orjson.dumps(breaker.record.encode()))
    restored = CircuitBreaker(3, 30, 1, state=BreakerRecord.decode(saved))
    assert restored.state(64) == "closed"


@pytest.mark.parametrize("success", [True, False])
def test_delivery_audit_event_validates_and_has_no_secret(
    note: Notification, success: bool
) -> None:
    secret = "whsec_top_secret_value"
    header = sign(encode(webhook_body(note)), secret, 1_790_000_000)
    event = delivery_event(
        note,
        receiver_type="webhook",
        attempt=2,
        ts=at(31),
        status_code=200 if success else 503,
        latency_ms=123.4,
        success=success,
        environment="prod",
        error=None if success else "http_503",
        next_retry_s=None if success else 1.5,
    )
    datum = from_json(parsed_schema("audit_event"), event)
    assert datum["category"] == "INTEGRATION"
    assert datum["action"] == "webhook.delivery"
    assert datum["outcome"] == ("SUCCESS" if success else "FAILURE")
    assert datum["details"]["receiver"] == "feed"
    assert datum["details"]["attempt"] == "2"
    assert datum["details"]["latency_ms"] == "123.4"
    text = orjson.dumps(event).decode()
    assert secret not in text
    assert header.split("v1=")[1] not in text
