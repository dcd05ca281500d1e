"""Admin helpers: create topics idempotently and wait until they are usable."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from pipeline.errors import RetryableError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.startup import wait_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


def admin_client(conn: KafkaConnection) -> AdminClient:
    return clients.admin(conn)


def ensure_topics(
    conn: KafkaConnection, topics: Iterable[TopicSpec], timeout: float = 30.0
) -> None:
    """Create the topics that do not exist yet; an existing topic is left as it is.

    Under least-privilege ACLs a stage may see a topic but not create it (the broker answers
    TOPIC_AUTHORIZATION_FAILED to CreateTopics even for an existing topic), or not see it at
    all: so only topics missing from its metadata are created, and a refusal is a warning, not
    an error (whoever administers the cluster creates the topics; a topic that is really
    missing fails at the first produce or consume)."""
    admin = admin_client(conn)
    wanted = list(topics)
    if not wanted:
        return
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise RetryableError(f"could not list topics: {exc.args[0]}") from exc
    wanted = [t for t in wanted if t.name not in existing]
    if not wanted:
        return
    futures = admin.create_topics(
        [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config=dict(t.config),
            )
            for t in wanted
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, fut in futures.items():
        try:
            fut.result(timeout=timeout)
            log.info("topic created", extra={"topic": name})
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                log.warning("not authorized to create topic", extra={"topic": name})
                continue
            raise RetryableError(f"could not create topic {name}: {err}") from exc


def ensure_topics_waiting(
    conn: KafkaConnection,
    topics: Iterable[TopicSpec],
    *,
    cap_s: float = 10.0,
    give_up_s: float | None = None,
    timeout: float = 30.0,
) -> None:
    """``ensure_topics`` for a worker's start-up: while the broker cannot be reached it waits,
    backing off up to ``cap_s``, instead of stopping the worker (found by the e2e run: a
    sanitizer restarted during a broker restart exited with "could not list topics").
    ``give_up_s`` bounds the wait (None: until the broker answers)."""
    wanted = list(topics)
    wait_for(
        lambda: ensure_topics(conn, wanted, timeout),
        (RetryableError,),
        what="broker",
        cap_s=cap_s,
        give_up_s=give_up_s,
    )


def delete_topics(conn: KafkaConnection, names: Iterable[str], timeout: float = 30.0) -> None:
    admin = admin_client(conn)
    names = list(names)
    if not names:
        return
    for name, fut in admin.delete_topics(names, operation_timeout=timeout).items():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                continue
            raise RetryableError(f"could not delete topic {name}: {err}") from exc
