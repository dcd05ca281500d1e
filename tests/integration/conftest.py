"""Fixtures of the integration tests that need the secured listener."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.integration.authz import Principals, open_principals


@pytest.fixture(scope="session")
def principals(stack: Settings, kafka_conn: KafkaConnection) -> Principals:
    """The local stack's SASL_SSL principals, with the shipped ACL file applied."""
    return open_principals(stack, kafka_conn)


@pytest.fixture
def raw_topic(kafka_conn: KafkaConnection) -> Iterator[str]:
    """A raw topic of the test's own (audit.raw.authz-…), deleted afterwards."""
    name = f"audit.raw.authz-{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_conn, [TopicSpec(name, partitions=1)])
    yield name
    delete_topics(kafka_conn, [name])
