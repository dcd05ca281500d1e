"""A schema registry that does not answer is not the record's fault: the serde says so with
``RegistryUnavailableError``, the batch stage retries the record, and the router's hop raises
instead of skipping the alert (found by the e2e run, tests/e2e). The registry here is a real
client pointed at a port where nothing listens."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Sequence

import pytest
from confluent_kafka import Message
from confluent_kafka.schema_registry import SchemaRegistryClient

from pipeline.errors import DeserializationError, RegistryUnavailableError, RetryableError
from pipeline.events.schemas import ALERT
from pipeline.events.serde import AvroSerde
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.stage import BatchStage, Output, StageConfig
from pipeline.kafka.startup import Stopped
from pipeline.route.forward import ByRule
from pipeline.route.stage import _decode


@pytest.fixture
def down() -> SchemaRegistryClient:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return SchemaRegistryClient({"url": f"http://127.0.0.1:{port}", "max.retries": 0})


def _wire(schema_id: int) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + b"\x02x"


def _msg(value: bytes) -> Message:
    return Message(topic="t", partition=0, offset=7, value=value, key=None)


def test_the_serde_tells_an_outage_from_a_bad_record(down: SchemaRegistryClient) -> None:
    serde = AvroSerde(down)
    with pytest.raises(RegistryUnavailableError):
        serde.deserialize(_wire(5), "t")
    with pytest.raises(DeserializationError):  # no registry needed to see this is garbage
        serde.deserialize(b"garbage", "t")
    with pytest.raises(RegistryUnavailableError):  # the first serialize registers the schema
        AvroSerde(down, ALERT).serialize({}, "t")


def test_the_router_hop_does_not_skip_an_alert_it_cannot_decode_yet(
    down: SchemaRegistryClient,
) -> None:
    hop = ByRule(AvroSerde(down, ALERT), "out")
    with pytest.raises(RetryableError):
        hop.process(_msg(_wire(5)))
    assert hop.skipped == 0
    assert hop.process(_msg(b"garbage")) == []  # a bad record is still skipped
    assert hop.skipped == 1


def test_the_router_keeps_retrying_an_alert_while_the_registry_is_down(
    down: SchemaRegistryClient,
) -> None:
    async def decode() -> object:
        return await asyncio.wait_for(_decode(AvroSerde(down, ALERT), _msg(_wire(5)), 0), 1.0)

    with pytest.raises(TimeoutError):  # still retrying: neither skipped nor raised
        asyncio.run(decode())


class Flaky:
    """Raises ``RetryableError`` ``fails`` times, then gives one output per record."""

    def __init__(self, fails: int) -> None:
        self.fails = fails

    def process(self, msg: Message) -> Sequence[Output]:
        if self.fails:
            self.fails -= 1
            raise RegistryUnavailableError("down")
        return [Output("out", None, msg.value() or b"")]


def _stage(processor: Flaky) -> BatchStage:
    conn = KafkaConnection(bootstrap_servers="127.0.0.1:1")  # never contacted here
    return BatchStage(conn, StageConfig(group_id="g", topics=["t"]), processor)


def test_the_batch_stage_retries_a_record_until_the_dependency_answers() -> None:
    stage = _stage(Flaky(fails=2))
    assert stage._process(_msg(b"v")) == [Output("out", None, b"v")]
    assert stage.stats.retries == 2


def test_a_stop_during_the_retries_leaves_without_output() -> None:
    stage = _stage(Flaky(fails=10**6))
    stage.stop()
    with pytest.raises(Stopped):
        stage._process(_msg(b"v"))
