"""A worker that starts while the broker is down waits for it (``ensure_topics_waiting``)
instead of exiting at once; with a bound it gives up with a ``RetryableError``. The broker
here is a port where nothing listens."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from pipeline.errors import RetryableError
from pipeline.kafka.admin import TopicSpec, ensure_topics_waiting
from pipeline.kafka.config import KafkaConnection


def test_start_up_waits_for_the_broker_then_gives_up_when_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = KafkaConnection(bootstrap_servers=f"127.0.0.1:{port}")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(RetryableError):
        ensure_topics_waiting(conn, [TopicSpec("t", 1)], cap_s=0.2, give_up_s=1.0, timeout=0.3)
    waits = [r for r in caplog.records if r.getMessage().startswith("unreachable at start-up")]
    assert len(waits) >= 2
    assert time.monotonic() - started >= 1.0
