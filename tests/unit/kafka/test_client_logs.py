"""librdkafka's log lines reach our JSON logs (never its own plain-text lines on stderr), and
a line it repeats on every reconnect attempt is written once per window with the count held
back (``clients.RepeatFilter``)."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection


def _record(msg: str, name: str = "pipeline.kafka.librdkafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), None)


def test_one_line_of_a_kind_per_window_then_the_count_held_back() -> None:
    now = [0.0]
    f = clients.RepeatFilter(10.0, clock=lambda: now[0])
    line = "FAIL [auditpipe-router#consumer-{}] 127.0.0.1:{}/bootstrap: Connect failed (after {}ms)"
    assert f.filter(_record(line.format(4, 9092, 0)))
    passed = 0
    for i in range(1, 200):  # 20 a second for ~10 s, numbers changing
        now[0] = i * 0.05
        passed += f.filter(_record(line.format(4 + i % 3, 9092, i % 7)))
    assert passed == 0
    assert f.filter(_record("another kind of line"))  # kinds are counted apart
    assert f.filter(_record(line.format(4, 9092, 0), name="pipeline.route.librdkafka"))
    now[0] = 10.5
    last = _record(line.format(4, 9092, 0))
    assert f.filter(last)
    assert last.__dict__["repeats_suppressed"] == 199
    now[0] = 21.0
    fresh = _record(line.format(4, 9092, 0))
    assert f.filter(fresh)
    assert "repeats_suppressed" not in fresh.__dict__  # nothing held back since


def test_it_remembers_a_bounded_number_of_kinds() -> None:
    f = clients.RepeatFilter(10.0, clock=lambda: 0.0, max_kinds=3)
    for word in ["a", "b", "c", "d"]:
        assert f.filter(_record(word))
    assert f.filter(_record("a"))  # forgotten (oldest): passes again
    assert not f.filter(_record("d"))


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_consumer_without_a_broker_logs_through_our_logger_once_per_window(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    logger = logging.getLogger("pipeline.test.librdkafka")
    lines = _Lines()
    logger.addHandler(lines)
    logger.propagate = False
    conn = KafkaConnection(bootstrap_servers=f"127.0.0.1:{port}", client_id="logs-test")
    consumer = clients.consumer(conn, "logs-test", logger=logger)
    [repeats] = [f for f in logger.filters if isinstance(f, clients.RepeatFilter)]
    try:
        consumer.subscribe(["t"])
        deadline = time.monotonic() + 60
        # until librdkafka has failed to connect a few times more than the filter lets through
        while repeats.held() < 5:
            assert time.monotonic() < deadline, [r.getMessage() for r in lines.records]
            consumer.poll(0.2)
    finally:
        consumer.close()
        logger.removeHandler(lines)
    connects = [r for r in lines.records if "Connect to" in r.getMessage()]
    assert connects, [r.getMessage() for r in lines.records]
    kinds = {clients.RepeatFilter._NUMBERS.sub("#", r.getMessage()) for r in connects}
    assert len(connects) == len(kinds)  # one of each kind within the window
    assert "%3|" not in capfd.readouterr().err  # librdkafka's own stderr format: not used
