"""Shared fixtures.

Integration tests (marker ``integration``) use the running local stack (``make up`` or
``.ci/run`` start it; the ``stack`` fixture starts it too if it is down), or an existing
cluster when ``AUDITPIPE_BOOTSTRAP_SERVERS`` / ``AUDITPIPE_SCHEMA_REGISTRY_URL`` /
``AUDITPIPE_S3_ENDPOINTS`` are set. Unit tests need no services.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from pipeline.archive.format.s3client import s3_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings, load_settings
from pipeline.stack import manager

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The services the integration tests talk to, healthy."""
    if not settings.uses_external_services:
        rows = manager.status(settings.stack)
        if not all(r.up for r in rows):
            manager.up(settings.stack)
    return settings


@pytest.fixture(scope="session")
def kafka_conn(stack: Settings) -> KafkaConnection:
    return clients.connection(stack, "auditpipe-tests")


@pytest.fixture
def topic_factory(kafka_conn: KafkaConnection) -> Iterator[Callable[..., str]]:
    """Create topics with unique names; they are deleted after the test."""
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 3, **config: str) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        ensure_topics(kafka_conn, [TopicSpec(name, partitions=partitions, config=config)])
        created.append(name)
        return name

    yield make
    delete_topics(kafka_conn, created)


@pytest.fixture(scope="session")
def s3_regions(stack: Settings) -> dict[str, S3Client]:
    return {region: s3_client(stack, region) for region in stack.s3_regions}
