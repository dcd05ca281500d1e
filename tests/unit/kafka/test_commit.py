"""The one commit function: retriable errors retried, a commit refused after a rebalance
reported (records re-delivered to the new owner), anything else raised. A scripted stand-in
for the consumer raises the exceptions confluent-kafka raises (pure logic under test)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from pipeline.errors import CommitError
from pipeline.kafka import clients


class Script:
    def __init__(self, *outcomes: int | None) -> None:
        self.outcomes = list(outcomes)  # an error code to raise, or None: committed
        self.calls: list[list[tuple[int, int]]] = []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert not asynchronous
        self.calls.append([(tp.partition, tp.offset) for tp in offsets])
        code = self.outcomes.pop(0)
        if code is not None:
            raise KafkaException(KafkaError(code))


OFFSETS = [TopicPartition("t", 0, 10), TopicPartition("t", 1, 5)]


def _commit(script: Script) -> bool:
    consumer: Any = script
    return clients.commit(consumer, OFFSETS)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "COMMIT_RETRY_S", 0.0)


def test_committed() -> None:
    script = Script(None)
    assert _commit(script) is True
    assert script.calls == [[(0, 10), (1, 5)]]


@pytest.mark.parametrize(
    "code",
    [KafkaError._TIMED_OUT, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR],
)
def test_retriable_errors_are_retried_until_the_commit_goes_through(code: int) -> None:
    script = Script(code, code, None)
    assert _commit(script) is True
    assert len(script.calls) == 3


@pytest.mark.parametrize(
    "code",
    [KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.UNKNOWN_MEMBER_ID],
)
def test_a_commit_refused_after_a_rebalance_is_reported_not_retried(code: int) -> None:
    script = Script(code)
    assert _commit(script) is False
    assert len(script.calls) == 1


@pytest.mark.parametrize(
    "code",
    [KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError._INVALID_ARG, KafkaError._FATAL],
)
def test_anything_else_is_raised(code: int) -> None:
    with pytest.raises(CommitError):
        _commit(Script(code))
