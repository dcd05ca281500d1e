"""Measure a running detector from outside: feed events, collect alerts, time both ends.

Used by the integration tests and ``make bench``. ``EventFeed`` produces JSON-form events (Avro
on the wire, keyed by actor like ``audit.events``) and records each event's Kafka timestamp
(CreateTime, set when ``produce`` is called). ``AlertCollector`` reads the alerts topic in a
thread and records when each alert arrived; latency is arrival minus the trigger's timestamp,
on this host's clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class EventFeed:
    """Produce JSON-form audit events to ``topic``; remember each one's Kafka timestamp."""

    def __init__(self, conn: KafkaConnection, registry_url: str, topic: str) -> None:
        self.topic = topic
        self.schema = parsed_schema(AUDIT_EVENT)
        self.serde = AvroSerde(registry_client(registry_url), AUDIT_EVENT)
        self.producer = clients.producer(conn, {"acks": "all", "linger.ms": 1})
        self.stamps: dict[str, float] = {}  # event_id -> Kafka timestamp, seconds
        self.failed: list[str] = []

    def send(self, docs: Iterable[dict[str, Any]], rate: float | None = None) -> int:
        """Produce ``docs`` in order (paced at ``rate`` events/s if given); wait for acks."""
        t0 = time.perf_counter()
        n = 0
        for n, doc in enumerate(docs, 1):
            if rate is not None:
                lag = t0 + (n - 1) / rate - time.perf_counter()
                if lag > 0:
                    time.sleep(lag)
            value = self.serde.serialize(jsonform.from_json(self.schema, doc), self.topic)
            event_id = str(doc["event_id"])
            while True:
                try:
                    self.producer.produce(
                        self.topic,
                        key=str(doc["actor"]["id"]).encode(),
                        value=value,
                        on_delivery=self._on_delivery(event_id),
                    )
                    break
                except BufferError:
                    self.producer.poll(0.05)
            self.producer.poll(0)
        left = self.producer.flush(60)
        if left or self.failed:
            raise RuntimeError(f"{left} events undelivered, errors: {self.failed[:3]}")
        return n

    def _on_delivery(self, event_id: str) -> Any:
        def done(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                self.failed.append(str(err))
                return
            _, ms = msg.timestamp()
            self.stamps[event_id] = ms / 1000.0

        return done


@dataclass(frozen=True)
class Received:
    arrival: float  # time.time() when the collector read it
    alert: dict[str, Any]


class AlertCollector:
    """Read every alert on ``topic`` from the beginning, in a thread, with arrival times."""

    def __init__(self, conn: KafkaConnection, registry_url: str, topic: str, group: str) -> None:
        self.topic = topic
        self.schema = parsed_schema(ALERT)
        self.serde = AvroSerde(registry_client(registry_url), ALERT)
        self.conn, self.group = conn, group
        self.consumer = clients.consumer(
            conn,
            group,
            {
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            },
        )
        self.consumer.subscribe([topic])
        self.received: list[Received] = []
        self.positions: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-collector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self.consumer.poll(0.05)
            if msg is None or msg.error():
                continue
            arrival = time.time()
            value = msg.value()
            alert = self.serde.deserialize(value, self.topic) if value else None
            with self._lock:
                self.positions[msg.partition() or 0] = (msg.offset() or 0) + 1
                if alert is not None:
                    json_alert = jsonform.to_json(self.schema, alert)
                    self.received.append(Received(arrival, json_alert))

    def first_by_key(self) -> dict[str, Received]:
        """The first revision that arrived of each dedup key."""
        with self._lock:
            out: dict[str, Received] = {}
            for r in self.received:
                out.setdefault(r.alert["dedup_key"], r)
            return out

    def wait_for(self, dedup_keys: Iterable[str], timeout: float) -> set[str]:
        """Wait until every key has arrived; the keys still missing."""
        want = set(dedup_keys)
        deadline = time.monotonic() + timeout
        while True:
            missing = want - set(self.first_by_key())
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def drain(self, timeout: float) -> bool:
        """Wait until everything on the topic now has been read."""
        deadline = time.monotonic() + timeout
        # a consumer of its own: the collector's is polled by its thread
        probe = clients.consumer(self.conn, f"{self.group}-probe")
        try:
            ends = end_offsets(probe, self.topic)
        finally:
            probe.close()
        while time.monotonic() < deadline:
            with self._lock:
                if all(self.positions.get(p, 0) >= end for p, end in ends.items()):
                    return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()


def end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in meta.partitions
    }


def committed_all(conn: KafkaConnection, group: str, topic: str, timeout: float) -> bool:
    """True once ``group`` has committed every offset of ``topic`` (waits up to ``timeout``)."""
    probe = clients.consumer(conn, group, {"enable.auto.commit": False})
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ends = end_offsets(probe, topic)
            tps = [TopicPartition(topic, p) for p in ends]
            committed = {tp.partition: tp.offset for tp in probe.committed(tps, timeout=10)}
            if all(max(committed[p], 0) >= end for p, end in ends.items()):
                return True
            time.sleep(0.2)
    finally:
        probe.close()
    return False


def start_worker(
    app_id: str,
    topics: dict[str, str],
    *,
    cwd: Path,
    log: IO[bytes] | int | None = None,
    args: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """``auditpipe run detector`` as a subprocess; ``topics`` overrides settings.topics keys."""
    env = {**os.environ, **{f"AUDITPIPE_TOPICS__{k.upper()}": v for k, v in topics.items()}}
    out = subprocess.DEVNULL if log is None else log
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.main", "run", "detector", "--app-id", app_id, *args],
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop_worker(worker: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within ``timeout``."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)
