"""The streaming router (`auditpipe run router`) on the real broker, delivering to a real local
HTTP receiver: storms group, silences and inhibitions suppress, failures are retried,
a down receiver blocks nobody else, and every attempt is an audit event."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.route.payloads import SIGNATURE_HEADER, verify
from pipeline.settings import Settings
from tests.integration.router_harness import (
    SECRETS,
    HttpReceiver,
    RouterHarness,
    free_port,
    make_alert,
    rule_is,
)

pytestmark = pytest.mark.integration
SLACK_PATH = f"/slack/T000/B000/{uuid.uuid4().hex}"

ROUTING = """
resolve_timeout: 1h
route:
  receiver: feed
  group_by: [rule_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - name: to-feed
      receiver: feed
      continue: true
    - name: storm
      receiver: hook
      matchers: ['rule_id="test.storm"']
      group_wait: 5s
      repeat_interval: 8s
    - name: silenced
      receiver: hook
      matchers: ['rule_id="test.silenced"']
    - name: inhibit
      receiver: hook
      matchers: ['rule_id="test.inhibit"']
      group_by: [rule_id, severity]
      group_wait: 2s
    - name: flaky
      receiver: flaky
      matchers: ['rule_id="test.flaky"']
    - name: down-first
      receiver: down
      matchers: ['rule_id=~"test.down.*"']
      continue: true
    - name: down-other
      receiver: hook
      matchers: ['rule_id=~"test.down.*"']
    - name: page
      receiver: pager
      matchers: ['severity="CRITICAL"', 'rule_id="test.page"']
      repeat_interval: 6s
      continue: true
    - name: ticket
      receiver: tickets
      matchers: ['severity="CRITICAL"', 'rule_id="test.page"']
      continue: true
    - name: chat
      receiver: chat
      matchers: ['severity="CRITICAL"', 'rule_id="test.page"']
receivers:
  - {name: feed, type: kafka, topic: FEED_TOPIC}
  - {name: hook, type: webhook, url: "URL/hook", secret_env: T_HOOK_SECRET, timeout: 2s}
  - {name: flaky, type: webhook, url: "URL/flaky", secret_env: T_HOOK_SECRET, timeout: 2s}
  - name: down
    type: webhook
    url: "URL/down"
    secret_env: T_HOOK_SECRET
    timeout: 1s
    max_retries: 20
  - {name: pager, type: pagerduty, routing_key_env: T_PD_KEY, url: "URL/pd"}
  - {name: tickets, type: ticket, url: "URL/tickets", token_env: T_TICKET_TOKEN, project: SEC}
  - {name: chat, type: slack, webhook_url_env: T_SLACK_HOOK, channel: "#sec"}
inhibit_rules:
  - source_matchers: ['severity="CRITICAL"']
    target_matchers: ['severity=~"LOW|MEDIUM|HIGH"']
    equal: [rule_id]
"""


@pytest.fixture(scope="module")
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def router(
    stack: Settings,
    kafka_conn: KafkaConnection,
    http: HttpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RouterHarness]:
    tmp: Path = tmp_path_factory.mktemp("router")
    h = RouterHarness(stack, kafka_conn, ROUTING.replace("URL", http.url("")), tmp)
    h.metrics_port = free_port()
    h.env["T_SLACK_HOOK"] = http.url(SLACK_PATH)  # a Slack webhook URL is itself a secret
    h.start("--metrics-port", str(h.metrics_port))
    yield h
    h.close()


def test_storm_makes_one_notification_then_repeats_per_interval(
    router: RouterHarness, http: HttpReceiver
) -> None:
    storm = [make_alert("test.storm", f"ps:actor-{i}") for i in range(1000)]
    sent = router.send_alerts(storm)
    first = http.wait_for("/hook", rule_is("test.storm"), timeout=60)
    assert len(first) == 1, router.log.read_text()[-3000:]
    body = first[0].body
    assert body["alert_count"] == 1000
    assert body["reason"] == "new"
    assert body["runbooks"] == ["https://runbooks.example/test.storm"]
    assert len(body["alerts"]) == 50
    assert body["truncated"] is True
    assert body["sample_event_ids"]
    # the body is signed with the receiver's secret over "<t>.<body>"
    assert verify(
        first[0].headers[SIGNATURE_HEADER], first[0].raw, SECRETS["T_HOOK_SECRET"], int(time.time())
    )
    assert first[0].headers["Idempotency-Key"] == body["id"]
    assert first[0].at - sent >= 4.5, "group_wait (5s) not honoured"
    # nothing new: the next notification is the repeat, one repeat_interval (8s) later
    time.sleep(6)
    assert len(http.got("/hook", rule_is("test.storm"))) == 1
    repeats = http.wait_for("/hook", rule_is("test.storm"), n=2, timeout=10)
    assert len(repeats) == 2
    assert repeats[1].body["reason"] == "repeat"
    assert repeats[1].body["dedup_key"] == body["dedup_key"]
    assert repeats[1].headers["Idempotency-Key"] != first[0].headers["Idempotency-Key"]
    assert 7.5 <= repeats[1].at - repeats[0].at <= 11


def test_silence_suppresses_until_expired(router: RouterHarness, http: HttpReceiver) -> None:
    added = router.cli(
        "silence", "add", "-m", 'rule_id="test.silenced"', "-d", "1h", "--comment", "test"
    )
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    listed = router.cli("silence", "list")
    assert silence_id in listed.stdout
    assert "active" in listed.stdout
    time.sleep(2)  # the router tails the silences topic
    router.send_alerts([make_alert("test.silenced", "ps:s1")])
    time.sleep(5)  # group_wait 1s + a few group intervals
    assert http.got("/hook", rule_is("test.silenced")) == []
    expired = router.cli("silence", "expire", silence_id)
    assert expired.returncode == 0, expired.stderr
    # the muted alert is sent as new once the silence has ended
    got = http.wait_for("/hook", rule_is("test.silenced"), timeout=20)
    assert len(got) == 1
    assert got[0].body["reason"] == "new"


def test_inhibition_suppresses_lesser_alert(router: RouterHarness, http: HttpReceiver) -> None:
    router.send_alerts(
        [
            make_alert("test.inhibit", "ps:i1", severity="CRITICAL", dedup_key="inh-crit"),
            make_alert("test.inhibit", "ps:i2", severity="HIGH", dedup_key="inh-high"),
        ]
    )
    got = http.wait_for("/hook", rule_is("test.inhibit"), timeout=30)
    assert len(got) == 1
    assert got[0].body["severity"] == "CRITICAL"
    time.sleep(4)
    got = http.got("/hook", rule_is("test.inhibit"))
    assert [r.body["severity"] for r in got] == ["CRITICAL"], "the HIGH alert was not inhibited"


def test_500_then_200_is_retried_and_delivered_once(
    router: RouterHarness, http: HttpReceiver
) -> None:
    http.fail["/flaky"] = [500]
    router.send_alerts([make_alert("test.flaky", "ps:f1")])
    got = http.wait_for("/flaky", rule_is("test.flaky"), n=2, timeout=30)
    assert [r.status for r in got] == [500, 200]
    assert got[0].headers["Idempotency-Key"] == got[1].headers["Idempotency-Key"]
    time.sleep(3)
    assert [r.status for r in http.got("/flaky")] == [500, 200], "delivered more than once"


def test_down_receiver_does_not_block_others(router: RouterHarness, http: HttpReceiver) -> None:
    http.hang_until["/down"] = time.time() + 12
    sent = router.send_alerts([make_alert("test.down", "ps:d1")])
    # the same group goes to `down` (hanging) and `hook`: hook gets it at once
    other = http.wait_for("/hook", rule_is("test.down"), timeout=20)
    assert len(other) == 1
    assert other[0].at - sent < 6, "the hanging receiver delayed another receiver"
    # another rule to hook while `down` is still down
    router.send_alerts([make_alert("test.down2", "ps:d2")])
    assert len(http.wait_for("/hook", rule_is("test.down2"), timeout=10)) == 1
    assert http.got("/down", lambda r: r.status == 200) == []
    # `down` comes back: its notifications are delivered (retries and the breaker's trials)
    delivered = http.wait_for("/down", lambda r: r.status == 200, n=2, timeout=60)
    assert {r.body["group_labels"]["rule_id"] for r in delivered} == {"test.down", "test.down2"}


def test_pagerduty_and_one_ticket_per_dedup_key(router: RouterHarness, http: HttpReceiver) -> None:
    router.send_alerts([make_alert("test.page", "ps:p1", severity="CRITICAL")])
    pages = http.wait_for("/pd", timeout=30)
    assert len(pages) == 1
    event = pages[0].body
    assert event["event_action"] == "trigger"
    assert event["routing_key"] == SECRETS["T_PD_KEY"]
    assert event["links"] == [{"href": "https://runbooks.example/test.page", "text": "Runbook"}]
    tickets = http.wait_for("/tickets", timeout=10)
    assert len(tickets) == 1
    assert tickets[0].body["external_id"] == "test.page:ps:p1"
    assert tickets[0].headers["Idempotency-Key"] == "test.page:ps:p1"
    assert tickets[0].headers["Authorization"] == f"Bearer {SECRETS['T_TICKET_TOKEN']}"
    chat = http.wait_for(SLACK_PATH, timeout=10)
    assert len(chat) == 1
    assert chat[0].body["channel"] == "#sec"
    assert "https://runbooks.example/test.page" in orjson.dumps(chat[0].body).decode()
    # the page repeats after its repeat_interval (6s); the ticket is not created again
    assert len(http.wait_for("/pd", n=2, timeout=15)) == 2
    time.sleep(1)
    assert len(http.got("/tickets")) == 1


def test_kafka_receiver_and_every_attempt_audited(
    router: RouterHarness, http: HttpReceiver
) -> None:
    router.send_alerts([make_alert("test.feed", "ps:k1")])
    consumer = clients.consumer(
        router.conn, f"feed-{uuid.uuid4().hex[:8]}", {"auto.offset.reset": "earliest"}
    )
    consumer.subscribe([router.feed])
    found = None
    deadline = time.monotonic() + 30
    while found is None and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error() or msg.value() is None:
            continue
        doc = orjson.loads(msg.value())  # type: ignore[arg-type]
        if doc["group_labels"].get("rule_id") == "test.feed":
            found = doc
    consumer.close()
    assert found is not None
    assert found["receiver"] == "feed"
    time.sleep(2)

    events = router.audit_events()
    assert events, "no delivery audit events"
    for doc, raw in events:
        assert doc["category"] == "INTEGRATION"
        assert doc["action"] == "webhook.delivery"
        for secret in (*SECRETS.values(), f"127.0.0.1:{http.port}", SLACK_PATH.rsplit("/")[-1]):
            assert secret.encode() not in raw, "a secret or URL leaked into an audit event"
    log_text = router.log.read_text()
    for secret in (*SECRETS.values(), SLACK_PATH.rsplit("/")[-1]):
        assert secret not in log_text, "a secret leaked into the router's log"
    by_receiver: dict[str, int] = {}
    for doc, _ in events:
        name = doc["details"]["receiver"]
        by_receiver[name] = by_receiver.get(name, 0) + 1
    # every HTTP request the receiver answered (or let hang) is one audited attempt
    for name, path in (
        ("hook", "/hook"),
        ("flaky", "/flaky"),
        ("pager", "/pd"),
        ("tickets", "/tickets"),
    ):
        assert by_receiver.get(name, 0) == len(http.got(path)), name
    flaky = sorted(
        (int(d["details"]["attempt"]), d["outcome"], d["details"]["status_code"])
        for d, _ in events
        if d["details"]["receiver"] == "flaky"
    )
    assert flaky == [(1, "FAILURE", "500"), (2, "SUCCESS", "200")]
    assert by_receiver.get("feed", 0) >= 1
    assert any(
        d["details"]["receiver"] == "down" and d["details"]["error"] == "timeout"
        for d, _ in events
        if d["outcome"] == "FAILURE"
    )


def test_metrics_by_receiver_with_bounded_labels(router: RouterHarness) -> None:
    """Runs last: counts what the tests above did."""
    with urllib.request.urlopen(f"http://127.0.0.1:{router.metrics_port}/metrics") as resp:
        text = resp.read().decode()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("auditpipe_router_")
    }
    assert samples['auditpipe_router_notifications_sent_total{receiver="hook"}'] >= 5
    assert samples['auditpipe_router_notifications_sent_total{receiver="feed"}'] >= 1
    assert samples['auditpipe_router_notifications_sent_total{receiver="flaky"}'] == 1
    suppressed = "auditpipe_router_notifications_suppressed_total"
    assert samples[f'{suppressed}{{reason="silenced",receiver="hook"}}'] >= 1
    assert samples[f'{suppressed}{{reason="inhibited",receiver="hook"}}'] >= 1
    assert samples["auditpipe_router_alerts_in_total"] >= 1000
    # labels are receivers and fixed reasons: no rule id, actor or dedup key
    assert "test." not in text
    assert "ps:" not in text
