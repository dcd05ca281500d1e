"""A real local HTTP receiver (http.server in a thread) and a router worker process on the real
broker, for the router's integration tests and its benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ALERT_SCHEMA = parsed_schema(ALERT)
EVENT_SCHEMA = parsed_schema(AUDIT_EVENT)
SECRETS = {
    "T_HOOK_SECRET": "hook-secret-" + uuid.uuid4().hex,
    "T_PD_KEY": "pd-routing-key-" + uuid.uuid4().hex,
    "T_TICKET_TOKEN": "ticket-token-" + uuid.uuid4().hex,
}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    at: float  # time.time()
    status: int


class HttpReceiver:
    """Records every request. ``fail[path]``: statuses to answer before 200s; ``hang[path]``:
    until this time.time(), requests to ``path`` get no answer for ``hang_s`` seconds."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.fail: dict[str, list[int]] = {}
        self.hang_until: dict[str, float] = {}
        self.hang_s = 3.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if time.time() < owner.hang_until.get(self.path, 0):
                    time.sleep(owner.hang_s)
                    self.close_connection = True
                    return
                with owner.lock:
                    queue = owner.fail.get(self.path) or []
                    status = queue.pop(0) if queue else 200
                    owner.requests.append(
                        Received(
                            self.path,
                            dict(self.headers),
                            orjson.loads(raw),
                            raw,
                            time.time(),
                            status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def got(self, path: str, pred: Callable[[Received], bool] = lambda r: True) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path and pred(r)]

    def wait_for(
        self,
        path: str,
        pred: Callable[[Received], bool] = lambda r: True,
        n: int = 1,
        timeout: float = 30.0,
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.got(path, pred)
            if len(found) >= n:
                return found
            time.sleep(0.05)
        return self.got(path, pred)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rule_is(rule_id: str) -> Callable[[Received], bool]:
    def pred(r: Received) -> bool:
        body = r.body
        alerts = body.get("alerts") or []
        if alerts:
            return bool(alerts[0].get("rule_id") == rule_id)
        details = (body.get("payload") or {}).get("class")
        return details == rule_id or body.get("alert", {}).get("rule_id") == rule_id

    return pred


class RouterHarness:
    """Topics of its own, a routing file, and the `auditpipe run router` process."""

    def __init__(
        self, stack: Settings, conn: KafkaConnection, routing_yaml: str, tmp: Path
    ) -> None:
        run = uuid.uuid4().hex[:8]
        self.run = run
        self.conn = conn
        self.alerts = f"t{run}.alerts"
        self.silences = f"t{run}.silences"
        self.state = f"t{run}.router-state"
        self.router_in = f"t{run}.router-in"
        self.audit_topic = f"t{run}.raw.router"
        self.feed = f"t{run}.notify.feed"
        self.group = f"router-{run}"
        compact = {"cleanup.policy": "compact"}
        self.topics = [
            TopicSpec(self.alerts, 3),
            TopicSpec(self.silences, 1, config=compact),
            TopicSpec(self.state, 3, config={**compact, "max.message.bytes": str(16 << 20)}),
            TopicSpec(self.router_in, 3),
            TopicSpec(self.audit_topic, 3),
            TopicSpec(self.feed, 3),
        ]
        ensure_topics(conn, self.topics)
        self.config = tmp / f"routing-{run}.yaml"
        self.config.write_text(routing_yaml.replace("FEED_TOPIC", self.feed))
        self.log = tmp / f"router-{run}.log"
        client = registry_client(stack.registry_url)
        self.alert_serde = AvroSerde(client, ALERT)
        self.event_serde = AvroSerde(client)
        self.producer = clients.producer(conn, {"acks": "all", "linger.ms": 5})
        self.env = {
            **os.environ,
            **SECRETS,
            "AUDITPIPE_TOPICS__ALERTS": self.alerts,
            "AUDITPIPE_TOPICS__SILENCES": self.silences,
            "AUDITPIPE_TOPICS__ROUTER_STATE": self.state,
            "AUDITPIPE_TOPICS__ROUTER_IN": self.router_in,
        }
        self.proc: subprocess.Popen[bytes] | None = None  # the last one started
        self.procs: list[subprocess.Popen[bytes]] = []
        self.metrics_port = 0

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        args = [
            sys.executable,
            "-m",
            "pipeline.cli.main",
            "run",
            "router",
            "--config",
            str(self.config),
            "--group",
            self.group,
            "--audit-topic",
            self.audit_topic,
            "--environment",
            "test",
            "--breaker-cool-down",
            "2",
            "--retry-base",
            "0.2",
            *extra,
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.procs.append(self.proc)
        return self.proc

    def kill9(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        proc = proc or self.proc
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def wait_log(self, text: str, count: int, timeout: float = 60.0) -> bool:
        """Whether the router log(s) show ``text`` at least ``count`` times within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and self.log.read_text().count(text) >= count:
                return True
            time.sleep(0.2)
        return False

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli.main", *args],
            cwd=ROOT,
            env={**self.env, "COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def send_alerts(self, alerts: list[dict[str, Any]]) -> float:
        """Produce alerts keyed by dedup_key (as the detector does); the time they were acked."""
        for doc in alerts:
            datum = jsonform.from_json(ALERT_SCHEMA, doc)
            value = self.alert_serde.serialize(datum, self.alerts)
            while True:
                try:
                    self.producer.produce(self.alerts, key=doc["dedup_key"].encode(), value=value)
                    break
                except BufferError:
                    self.producer.poll(0.05)
        assert self.producer.flush(30) == 0
        return time.time()

    def audit_events(self, timeout: float = 10.0) -> list[tuple[dict[str, Any], bytes]]:
        """Every delivery audit event on the raw topic so far (JSON form, raw bytes)."""
        consumer = clients.consumer(
            self.conn,
            f"audit-{uuid.uuid4().hex[:8]}",
            {"auto.offset.reset": "earliest", "enable.auto.commit": False},
        )
        consumer.subscribe([self.audit_topic])
        out: list[tuple[dict[str, Any], bytes]] = []
        idle_deadline = time.monotonic() + timeout
        while time.monotonic() < idle_deadline:
            for msg in consumer.consume(500, 0.5):
                value = msg.value()
                if msg.error() or value is None:
                    continue
                datum = self.event_serde.deserialize(value, self.audit_topic)
                out.append((jsonform.to_json(EVENT_SCHEMA, datum), value))
                idle_deadline = max(idle_deadline, time.monotonic() + 2.0)
        consumer.close()
        return out

    def close(self) -> None:
        self.stop()
        delete_topics(self.conn, [t.name for t in self.topics])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_alert(rule_id: str, actor: str, **over: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    ts = jsonform.format_ts(now)
    doc: dict[str, Any] = {
        "alert_id": str(uuid.uuid4()),
        "rule_id": rule_id,
        "title": f"Test alert {rule_id}",
        "severity": "HIGH",
        "ts": ts,
        "group": {"actor.id": actor},
        "count": 1,
        "window_start": ts,
        "window_end": jsonform.format_ts(now + timedelta(minutes=10)),
        "first_event_ts": ts,
        "last_event_ts": ts,
        "sample_event_ids": [str(uuid.uuid4())],
        "dedup_key": f"{rule_id}:{actor}",
        "runbook": f"https://runbooks.example/{rule_id}",
        "tags": ["attack.t1078"],
    }
    doc.update(over)
    return doc
