"""A registry outage delays the sanitizer, never dead-letters a good event (found by the e2e
run, tests/e2e: a sanitizer that met the registry down dead-lettered or crashed on every
record whose schema it did not have yet).

The registry is the stack's, behind a TCP relay of this test's own that can be switched off,
so the shared registry is never stopped."""

from __future__ import annotations

import contextlib
import itertools
import secrets
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.stage import BatchStage, StageConfig
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator
from pipeline.sanitizer.build import build_scrub
from pipeline.sanitizer.runner import build_processor
from pipeline.settings import Settings, TopicsConfig
from tests.e2e.books import read_topic
from tests.e2e.stack import until

pytestmark = pytest.mark.integration


class Relay:
    """Forwards TCP connections to ``target`` while ``up``; otherwise closes them at once."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def topics(kafka_conn: KafkaConnection) -> Iterator[TopicsConfig]:
    run = uuid.uuid4().hex[:8]
    t = TopicsConfig(raw_pattern=rf"^t{run}\.raw\..*", events=f"t{run}.events", dlq=f"t{run}.dlq")
    names = [f"t{run}.raw.svc", t.events, t.dlq]
    ensure_topics(kafka_conn, [TopicSpec(n, 1) for n in names])
    yield t
    delete_topics(kafka_conn, names)


def test_registry_outage_delays_and_dead_letters_nothing(
    stack: Settings, kafka_conn: KafkaConnection, topics: TopicsConfig, tmp_path: Path
) -> None:
    registry = urlsplit(stack.registry_url)
    relay = Relay((registry.hostname or "127.0.0.1", registry.port or 80))
    n = 50
    config = ProducerConfig(
        kafka=kafka_conn,
        registry_url=stack.registry_url,
        service="outage-source",
        topic=topics.raw_pattern[1:].replace(r"\.", ".").replace(".*", "svc"),
        spool_dir=tmp_path / "spool",
    )
    with AuditProducer(config) as producer:
        for doc in itertools.islice(EventGenerator(seed=7).events(), n):
            producer.emit_event(doc)
        assert producer.flush(30) == 0

    settings = stack.model_copy(
        update={
            "schema_registry_url": f"http://127.0.0.1:{relay.port}{registry.path}",
            "topics": topics,
            "hmac_key": SecretStr(secrets.token_hex(32)),
            "dlq_key": SecretStr(secrets.token_hex(32)),
        }
    )
    # a fresh worker: no schema cached, the registry unreachable
    processor = build_processor(settings, build_scrub(settings))
    stage = BatchStage(
        kafka_conn,
        StageConfig(group_id=f"outage-{uuid.uuid4().hex[:8]}", topics=[topics.raw_pattern]),
        processor,
    )
    worker = threading.Thread(target=stage.run)
    worker.start()
    try:
        assert until(lambda: stage.stats.retries >= 2, 60), stage.stats
        assert stage.stats.commits == 0  # nothing went anywhere while the registry was away
        relay.up = True
        assert until(lambda: stage.stats.consumed >= n, 60), stage.stats
    finally:
        stage.stop()
        worker.join(30)
        relay.close()
    assert processor.counters.dead_letters == {}
    assert len(list(read_topic(kafka_conn, topics.events))) == n
    assert list(read_topic(kafka_conn, topics.dlq)) == []
