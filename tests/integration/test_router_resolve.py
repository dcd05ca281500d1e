"""PagerDuty trigger then resolve with the same dedup_key, end to end: an alert that stops
(its window ended more than resolve_timeout ago) resolves its incident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.events.jsonform import format_ts
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.integration.router_harness import HttpReceiver, RouterHarness, make_alert

pytestmark = pytest.mark.integration

ROUTING = """
resolve_timeout: 3s
route:
  receiver: pager
  group_by: [rule_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - {name: pager, type: pagerduty, routing_key_env: T_PD_KEY, url: "URL/pd"}
"""


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


def test_pagerduty_trigger_then_resolve_same_dedup_key(
    stack: Settings, kafka_conn: KafkaConnection, http: HttpReceiver, tmp_path: Path
) -> None:
    h = RouterHarness(stack, kafka_conn, ROUTING.replace("URL", http.url("")), tmp_path)
    try:
        h.start()
        now = format_ts(datetime.now(UTC))
        h.send_alerts([make_alert("test.resolve", "ps:r1", severity="CRITICAL", window_end=now)])
        events = http.wait_for("/pd", n=2, timeout=60)
        assert [e.body["event_action"] for e in events] == ["trigger", "resolve"]
        assert events[0].body["dedup_key"] == events[1].body["dedup_key"]
        assert events[1].at - events[0].at >= 1.5  # resolved only after resolve_timeout
    finally:
        h.close()
