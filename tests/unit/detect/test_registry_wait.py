"""The detector waits for a schema registry that does not answer instead of skipping the event
(an outage right after a restart once cost detections in the e2e chaos run)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.detect import loop
from pipeline.errors import RegistryUnavailableError
from pipeline.kafka.startup import Stopped


class FlakySerde:
    """Answers after ``failures`` outages (the registry coming back)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def deserialize(self, value: bytes, topic: str, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise RegistryUnavailableError("schema registry unreachable (ConnectError)")
        return {"event_id": value.decode()}


def test_an_event_waits_for_the_registry_and_is_then_decoded() -> None:
    fake = SimpleNamespace(_stop=threading.Event())
    serde = FlakySerde(failures=2)
    datum = loop.DetectorLoop._decode(fake, serde, b"e-1", "audit.events", 0, 7)  # type: ignore[arg-type]
    assert datum == {"event_id": "e-1"}
    assert serde.calls == 3


def test_a_stop_while_waiting_leaves_without_skipping_the_event() -> None:
    stop = threading.Event()
    stop.set()
    serde = FlakySerde(failures=10**9)
    with pytest.raises(Stopped):
        loop.DetectorLoop._decode(SimpleNamespace(_stop=stop), serde, b"e", "t", 0, 0)  # type: ignore[arg-type]
    assert serde.calls == 1
