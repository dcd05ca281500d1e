"""Router kill -9 and restart: no page is repeated and none is lost (state from the compacted
state topic, offsets committed only after it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.integration.router_harness import HttpReceiver, RouterHarness, make_alert, rule_is

pytestmark = pytest.mark.integration

ROUTING = """
resolve_timeout: 1h
route:
  receiver: page
  group_by: [rule_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - name: slow
      receiver: page
      matchers: ['rule_id="test.kill.slow"']
      group_wait: 10s
      group_interval: 1h
    - name: storm  # longer than the restart plus the session timeout (10s) of the dead one
      receiver: page
      matchers: ['rule_id="test.kill.storm"']
      group_wait: 30s
      group_interval: 1h
    - name: multi
      receiver: page
      matchers: ['rule_id=~"test.multi.*"']
      group_wait: 5s
      group_interval: 1h
receivers:
  - {name: page, type: webhook, url: "URL/page", secret_env: T_HOOK_SECRET, timeout: 2s}
"""


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def router(
    stack: Settings, kafka_conn: KafkaConnection, http: HttpReceiver, tmp_path: Path
) -> Iterator[RouterHarness]:
    h = RouterHarness(stack, kafka_conn, ROUTING.replace("URL", http.url("")), tmp_path)
    yield h
    h.close()


def _pages(http: HttpReceiver, rule: str) -> set[str]:
    """Distinct pages (``Idempotency-Key``) for ``rule``."""
    return {r.headers["Idempotency-Key"] for r in http.got("/page", rule_is(rule))}


def test_no_duplicate_page_after_kill_9(router: RouterHarness, http: HttpReceiver) -> None:
    router.start()
    router.send_alerts([make_alert("test.kill", "ps:k1")])
    assert len(http.wait_for("/page", rule_is("test.kill"), timeout=60)) == 1
    time.sleep(1.5)  # the delivery is recorded in the state topic within a turn
    router.kill9()
    # the alert again (a re-send of the detector) and an update of it: both known already
    router.send_alerts(
        [make_alert("test.kill", "ps:k1"), make_alert("test.kill", "ps:k1", count=5)]
    )
    router.start()
    # a new alert of another rule shows the restarted router is routing again
    router.send_alerts([make_alert("test.kill.other", "ps:k2")])
    assert len(http.wait_for("/page", rule_is("test.kill.other"), timeout=60)) == 1
    time.sleep(3)  # several group intervals
    got = http.got("/page", rule_is("test.kill"))
    assert len(got) == 1, [r.body["reason"] for r in got]


def test_group_waiting_at_kill_9_is_not_lost(router: RouterHarness, http: HttpReceiver) -> None:
    router.start()
    sent = router.send_alerts([make_alert("test.kill.slow", "ps:w1")])
    time.sleep(2.5)  # consumed, state written, offsets committed; group_wait (10s) not over
    assert http.got("/page") == []
    router.kill9()
    router.start()
    got = http.wait_for("/page", rule_is("test.kill.slow"), timeout=60)
    assert len(got) == 1
    assert got[0].at - sent >= 9.5, "the recovered group did not keep its group_wait"
    time.sleep(3)
    assert len(http.got("/page", rule_is("test.kill.slow"))) == 1


def test_kill_9_mid_storm_one_page_with_every_alert(
    router: RouterHarness, http: HttpReceiver
) -> None:
    router.start()
    router.send_alerts([make_alert("test.kill.storm", "ps:first")])
    time.sleep(1.5)
    storm = [make_alert("test.kill.storm", f"ps:s{i}") for i in range(1000)]
    router.send_alerts(storm[:500])
    router.kill9()  # while the router is ingesting the storm
    router.send_alerts(storm[500:])
    router.start()
    got = http.wait_for("/page", rule_is("test.kill.storm"), timeout=60)
    assert len(got) == 1
    time.sleep(3)
    assert len(_pages(http, "test.kill.storm")) == 1
    assert len(http.got("/page", rule_is("test.kill.storm"))) == 1
    assert got[0].body["alert_count"] == 1001, "alerts were lost across the kill"


def test_two_instances_share_the_work_and_survive_one_kill(
    router: RouterHarness, http: HttpReceiver
) -> None:
    """Two routers in one group: each rule's groups live on one instance (alerts re-keyed by
    rule), so a storm spread over many actors is still one page; after one instance is
    killed the other takes its partitions over from the state topic without a repeat."""
    first = router.start()
    assert router.wait_log('"partitions assigned"', 1)
    router.start()
    # both joined: the first instance is assigned again after the rebalance, the second once
    assert router.wait_log('"partitions assigned"', 3), router.log.read_text()[-3000:]
    time.sleep(1)
    rules = [f"test.multi.{i}" for i in range(6)]
    router.send_alerts([make_alert(rule, f"ps:m{j}") for rule in rules for j in range(100)])
    for rule in rules:
        assert len(http.wait_for("/page", rule_is(rule), timeout=60)) == 1, rule
    time.sleep(2)
    router.kill9(first)
    # the same alerts again (a detector restart) and one new rule: after the takeover,
    # only the new rule pages
    router.send_alerts([make_alert(rule, f"ps:m{j}") for rule in rules for j in range(100)])
    router.send_alerts([make_alert("test.multi.new", "ps:n")])
    assert len(http.wait_for("/page", rule_is("test.multi.new"), timeout=90)) == 1
    time.sleep(3)
    for rule in rules:
        got = http.got("/page", rule_is(rule))
        detail = [(r.body["reason"], r.body["ts"], r.headers["Idempotency-Key"]) for r in got]
        assert len(got) == 1, (rule, detail, router.log.read_text()[-4000:])
        assert got[0].body["alert_count"] == 100
