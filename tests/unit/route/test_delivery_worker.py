"""Requests per receiver type, and the per-receiver worker's retry/breaker/audit logic (with a
scripted transport: pure logic, no network)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.errors import ConfigError, RegistryUnavailableError
from pipeline.events.jsonform import from_json
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.route.config import RoutingConfig
from pipeline.route.dispatch import Job, ReceiverWorker
from pipeline.route.engine import Router
from pipeline.route.forward import partition_warnings
from pipeline.route.grouping import Notification
from pipeline.route.inhibit import InhibitIndex, inhibited_by
from pipeline.route.payloads import SIGNATURE_HEADER, verify
from pipeline.route.retry import CircuitBreaker, RetryPolicy
from pipeline.route.sender import Attempt, Request, build_requests

from .helpers import alert, at, routing

CONFIG = """
route:
  receiver: hook
  group_by: [rule_id]
receivers:
  - {name: hook, type: webhook, url: "https://hooks.example/x", secret_env: HOOK_SECRET}
  - {name: pd, type: pagerduty, routing_key_env: PD_KEY}
  - {name: chat, type: slack, webhook_url_env: SLACK_URL}
  - {name: tix, type: ticket, url: "https://tickets.example/new", token_env: TIX_TOKEN}
inhibit_rules:
  - source_matchers: ['severity="CRITICAL"']
    target_matchers: ['severity=~"LOW|MEDIUM|HIGH"']
    equal: [rule_id, group.actor.id]
"""
ENV = {
    "HOOK_SECRET": "s3cret-hook",
    "PD_KEY": "pd-key-123",
    "SLACK_URL": "https://hooks.slack.example/T000/B000/XXXX",
    "TIX_TOKEN": "tix-token",
}


@pytest.fixture
def config(tmp_path: Path) -> RoutingConfig:
    return routing(tmp_path, CONFIG)


@pytest.fixture
def note(config: RoutingConfig) -> Notification:
    router = Router(config)
    router.ingest(alert(0, severity="CRITICAL", dedup_key="k1"), at(0))
    router.ingest(alert(1, severity="CRITICAL", dedup_key="k2", group={"actor.id": "u2"}), at(1))
    [n] = router.due(at(30))
    return n


def test_webhook_request_is_signed_and_keyed(config: RoutingConfig, note: Notification) -> None:
    [req] = build_requests(config.receiver("hook"), note, ENV)
    headers = req.headers(1_800_000_000)
    assert verify(headers[SIGNATURE_HEADER], req.body, "s3cret-hook", 1_800_000_000)
    assert not verify(headers[SIGNATURE_HEADER], req.body, "other", 1_800_000_000)
    assert headers["Idempotency-Key"] == note.id
    assert headers["X-Auditpipe-Dedup-Key"] == note.dedup_key
    assert orjson.loads(req.body)["dedup_key"] == note.dedup_key


def test_pagerduty_slack_ticket_requests(config: RoutingConfig, note: Notification) -> None:
    [pd] = build_requests(config.receiver("pd"), note, ENV)
    assert orjson.loads(pd.body)["routing_key"] == "pd-key-123"
    [chat] = build_requests(config.receiver("chat"), note, ENV)
    assert chat.url.get_secret_value() == ENV["SLACK_URL"]
    assert "XXXX" not in repr(chat)  # the URL is a secret: never in a repr or a log line
    tickets = build_requests(config.receiver("tix"), note, ENV)
    assert sorted(t.ticket_key or "" for t in tickets) == ["k1", "k2"]
    assert all(t.headers(0)["Idempotency-Key"] == t.ticket_key for t in tickets)
    assert tickets[0].headers(0)["Authorization"] == "Bearer tix-token"
    # a ticket that exists already is not created again
    again = build_requests(config.receiver("tix"), note, ENV, tickets_done=frozenset({"k1"}))
    assert [t.ticket_key for t in again] == ["k2"]


def test_missing_secret_is_a_config_error(config: RoutingConfig, note: Notification) -> None:
    with pytest.raises(ConfigError, match="HOOK_SECRET"):
        build_requests(config.receiver("hook"), note, {})


class Script:
    """A transport answering from a list of outcomes."""

    def __init__(self, outcomes: list[Attempt]) -> None:
        self.outcomes = outcomes
        self.sent: list[Request] = []

    def requests(self, note: Notification, tickets_done: frozenset[str]) -> list[Request]:
        return build_requests(RoutingConfig.model_validate(_CONFIG_DOC).receiver("hook"), note, ENV)

    async def attempt(self, request: Request) -> Attempt:
        self.sent.append(request)
        return self.outcomes.pop(0)


class Hooks:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.done: list[tuple[str, bool]] = []

    def audit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def wanted(self, job: Job) -> bool:
        return True

    def tickets_done(self, job: Job) -> frozenset[str]:
        return frozenset()

    def finished(self, job: Job, delivered: bool, tickets: list[str]) -> None:
        self.done.append((job.key, delivered))

    def breaker_changed(self) -> None:
        return


_CONFIG_DOC = {
    "route": {"receiver": "hook"},
    "receivers": [
        {
            "name": "hook",
            "type": "webhook",
            "url": "https://h.example/x",
            "secret_env": "HOOK_SECRET",
        }
    ],
}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _worker(
    config: RoutingConfig, script: Script, hooks: Any, breaker: CircuitBreaker, clock: Clock
) -> ReceiverWorker:
    return ReceiverWorker(
        config.receiver("hook"),
        script,
        policy=RetryPolicy(max_attempts=3, base_s=0.001, cap_s=0.002),
        breaker=breaker,
        hooks=hooks,
        environment="test",
        run_id="r1",
        clock=clock,
        rng=random.Random(1),
    )


def test_worker_retries_a_500_and_audits_every_attempt(
    config: RoutingConfig, note: Notification
) -> None:
    script = Script([Attempt(False, 500, 3.0, "http_500"), Attempt(True, 200, 2.0)])
    hooks = Hooks()
    worker = _worker(config, script, hooks, CircuitBreaker(5, 30.0), Clock())
    delivered, tickets = asyncio.run(worker.deliver(Job(0, "hook/x", note)))
    assert delivered is True
    assert tickets == []
    assert len(script.sent) == 2
    assert [(e["outcome"], e["details"]["attempt"]) for e in hooks.events] == [
        ("FAILURE", "1"),
        ("SUCCESS", "2"),
    ]
    assert "next_retry_s" in hooks.events[0]["details"]
    schema = parsed_schema(AUDIT_EVENT)
    for event in hooks.events:
        from_json(schema, event)  # a valid audit event
        text = orjson.dumps(event)
        for secret in ("s3cret-hook", "https://h.example/x", SIGNATURE_HEADER.encode().decode()):
            assert secret.encode() not in text
    assert len({e["event_id"] for e in hooks.events}) == 2


def test_worker_gives_up_on_a_4xx_and_after_max_attempts(
    config: RoutingConfig, note: Notification
) -> None:
    script = Script([Attempt(False, 400, 1.0, "http_400")])
    hooks = Hooks()
    worker = _worker(config, script, hooks, CircuitBreaker(5, 30.0), Clock())
    assert asyncio.run(worker.deliver(Job(0, "k", note)))[0] is False
    assert len(script.sent) == 1  # a 400 is not retried
    script = Script([Attempt(False, None, 1.0, "timeout")] * 3)
    worker = _worker(config, script, Hooks(), CircuitBreaker(5, 30.0), Clock())
    assert asyncio.run(worker.deliver(Job(0, "k", note)))[0] is False
    assert len(script.sent) == 3


def test_open_breaker_waits_without_spending_attempts(
    config: RoutingConfig, note: Notification
) -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 0.5)
    breaker.record_failure(clock())  # open
    script = Script([Attempt(True, 200, 1.0)])
    worker = _worker(config, script, Hooks(), breaker, clock)

    async def go() -> bool:
        task = asyncio.create_task(worker.deliver(Job(0, "k", note)))
        await asyncio.sleep(0.3)
        assert script.sent == []  # nothing went out while open
        clock.t += 1.0  # the cool-down passes: one trial goes out
        ok, _ = await task
        return ok

    assert asyncio.run(go()) is True
    assert breaker.state(clock()) == "closed"


def test_inhibit_index_agrees_with_the_scan(config: RoutingConfig) -> None:
    rng = random.Random(7)
    alerts = [
        alert(
            0,
            dedup_key=f"k{i}",
            severity=rng.choice(["LOW", "HIGH", "CRITICAL"]),
            rule_id=rng.choice(["r1", "r2"]),
            group={"actor.id": rng.choice(["u1", "u2", "u3"])},
        )
        for i in range(60)
    ]
    index = InhibitIndex(config.inhibit_rules, alerts)
    for target in alerts:
        expected = inhibited_by(config.inhibit_rules, target, alerts)
        assert (index.inhibited_by(target) is None) == (expected is None)


def test_partition_warnings_name_cross_rule_grouping(tmp_path: Path) -> None:
    cfg = routing(
        tmp_path,
        """
route:
  receiver: hook
  group_by: [service]
receivers:
  - {name: hook, type: kafka}
inhibit_rules:
  - source_matchers: ['severity="CRITICAL"']
    target_matchers: ['severity="LOW"']
    equal: [service]
""",
    )
    warnings = partition_warnings(cfg)
    assert any("route root" in w for w in warnings)
    assert any("inhibit_rules.0" in w for w in warnings)


class RegistryDownHooks(Hooks):
    """Its audit fails ``fails`` times as the SDK does while the schema registry is down."""

    def __init__(self, fails: int) -> None:
        super().__init__()
        self.fails = fails

    def audit(self, event: dict[str, Any]) -> None:
        if self.fails:
            self.fails -= 1
            raise RegistryUnavailableError("schema registry unreachable: ConnectError")
        super().audit(event)


def test_an_audit_event_that_cannot_be_written_yet_is_retried_not_the_delivery_failed(
    config: RoutingConfig, note: Notification
) -> None:
    script = Script([Attempt(False, 503, 3.0, "http_503"), Attempt(True, 200, 2.0)])
    hooks = RegistryDownHooks(fails=2)
    worker = _worker(config, script, hooks, CircuitBreaker(5, 30.0), Clock())
    delivered, _ = asyncio.run(worker.deliver(Job(0, "hook/x", note)))
    assert delivered is True
    assert len(script.sent) == 2  # the 503 was retried, once the first audit was written
    assert [e["outcome"] for e in hooks.events] == ["FAILURE", "SUCCESS"]
