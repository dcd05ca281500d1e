"""The README's SDK example runs against the real stack and its event arrives."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.unit.test_readme import sdk_example

pytestmark = pytest.mark.integration


def test_readme_sdk_example_runs(
    stack: Settings, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    if stack.uses_external_services:
        pytest.skip("the README example names the local stack's addresses")
    topic = "audit.raw.billing-api"
    ensure_topics(kafka_conn, [TopicSpec(topic, partitions=3)])
    consumer = clients.consumer(
        kafka_conn, f"readme-{uuid.uuid4()}", {"auto.offset.reset": "latest"}
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 20
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the example's spool directory lands here
    try:
        exec(compile(sdk_example(), "README.md", "exec"), {})  # noqa: S102 - our own README
    finally:
        os.chdir(cwd)
    serde = AvroSerde(registry_client(stack.registry_url))
    got = []
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None and msg.value():
            got.append(serde.deserialize(msg.value(), topic))  # type: ignore[arg-type]
    consumer.close()
    assert got, "the README example's event did not arrive"
    assert got[0]["service"] == "billing-api"
    assert got[0]["actor"]["id"] == "usr_000042"
