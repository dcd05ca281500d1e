"""A sanitizer worker process over topics of one test run: a one-partition raw topic written in
order, the worker (``auditpipe run sanitizer``) with its own events/DLQ/alerts topics, reading
the outputs back, its metrics and its exit. Shared by the bad-input catalogue and the hostile
stream tests."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaError, Message

from pipeline.events.schemas import AUDIT_EVENT
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection

ROOT = Path(__file__).resolve().parents[2]


class Topics:
    """This run's topics (named after a fresh tag), the registry, and the clock at the start."""

    def __init__(self, conn: KafkaConnection, registry_url: str) -> None:
        self.tag = uuid.uuid4().hex[:10]
        self.conn = conn
        self.client = registry_client(registry_url)
        self.serde = AvroSerde(self.client, AUDIT_EVENT)
        self.now = datetime.now(UTC)
        self.offsets: list[int] = []  # raw offsets, in the order written
        ensure_topics(self.conn, [TopicSpec(self.raw, 1)])
        self._producer = clients.producer(self.conn)

    @property
    def raw(self) -> str:
        return f"t{self.tag}.raw.svc"

    @property
    def events(self) -> str:
        return f"t{self.tag}.events"

    @property
    def dlq(self) -> str:
        return f"t{self.tag}.dlq"

    @property
    def alerts(self) -> str:
        return f"t{self.tag}.alerts"

    def put(self, value: bytes, key: bytes | None) -> None:
        def done(err: KafkaError | None, msg: Message) -> None:
            self.offsets.append(-1 if err is not None else msg.offset() or 0)

        self._producer.produce(self.raw, value=value, key=key, on_delivery=done)

    def flush(self) -> list[int]:
        assert self._producer.flush(60) == 0
        assert -1 not in self.offsets
        return self.offsets

    def delete(self) -> None:
        delete_topics(self.conn, [self.raw, self.events, self.dlq, self.alerts])

    def drain(
        self, topic: str, done: Callable[[list[Message]], bool], timeout_s: float
    ) -> list[Message]:
        """Records of ``topic`` from the start, until ``done`` says so or the time is up."""
        consumer = clients.consumer(
            self.conn, f"t-{uuid.uuid4()}", {"auto.offset.reset": "earliest"}
        )
        consumer.subscribe([topic])
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline and not done(out):
                out += [m for m in consumer.consume(500, 0.5) if m.error() is None]
        finally:
            consumer.close()
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Worker:
    """``auditpipe run sanitizer`` on ``topics``, its logs (stdout and stderr) captured."""

    def __init__(self, topics: Topics, *, batch_size: int, env: dict[str, str]) -> None:
        self.port = _free_port()
        full = {
            **os.environ,
            "AUDITPIPE_TOPICS__RAW_PATTERN": rf"^t{topics.tag}\.raw\..*",
            "AUDITPIPE_TOPICS__EVENTS": topics.events,
            "AUDITPIPE_TOPICS__DLQ": topics.dlq,
            "AUDITPIPE_TOPICS__ALERTS": topics.alerts,
            "AUDITPIPE_DLQ_KEY": secrets.token_hex(32),
            "AUDITPIPE_HMAC_KEY": secrets.token_hex(32),
            **env,
        }
        # a file, not a pipe: a full pipe would block the worker; closed by kill()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli.main", "run", "sanitizer", "--group",
             f"g{topics.tag}", "--batch-size", str(batch_size), "--metrics-port", str(self.port)],
            cwd=ROOT, env=full, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.output = ""

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            return str(r.read().decode())

    def stop(self) -> int:
        """SIGTERM, then the exit code; ``output`` holds what it logged."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._log.seek(0)
        self.output = self._log.read().decode("utf-8", "replace")
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
