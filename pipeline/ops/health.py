"""Health state and the HTTP server of ``/healthz``, ``/readyz`` and ``/metrics``.

A stage's runner calls :func:`serve` once (a few lines): the server runs in a daemon thread,
a probe thread looks at the broker and the stage's consumer group every few seconds
(:mod:`pipeline.ops.probe`), and the handlers only read the last results, so a scrape or a
kubelet probe never waits on Kafka.

- ``/healthz``: the stage's main thread is alive and the group is not stalled for long.
- ``/readyz``: the broker answers, the group is stable with members, not stalled.
- ``/metrics``: the stage's own registry plus lag, committed offsets and readiness.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from pipeline.ops.config import HealthConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str

    def body(self, stage: str) -> bytes:
        return orjson.dumps({"stage": stage, "ok": self.ok, "reason": self.reason})


class Probe(Protocol):
    """Looks at the outside world once; ``serve`` runs it every ``probe_interval_s``."""

    def check(self) -> Verdict: ...

    def stalled_for(self) -> float: ...


class Health:
    """What the endpoints answer; thread-safe. ``probe`` (optional) decides readiness."""

    def __init__(
        self,
        stage: str,
        config: HealthConfig,
        probe: Probe | None = None,
        *,
        worker: threading.Thread | None = None,
        samplers: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.stage = stage
        self._samplers = tuple(samplers)
        self.config = config
        self.probe = probe
        self._worker = worker or threading.main_thread()
        self._lock = threading.Lock()
        self._ready = Verdict(probe is None, "not probed yet" if probe else "no probe")
        self._stalled_s = 0.0

    def tick(self) -> None:
        """One probe pass (the probe thread calls this)."""
        for sample in self._samplers:
            try:
                sample()
            except Exception:
                log.exception("health sampler failed", extra={"stage": self.stage})
        if self.probe is None:
            return
        try:
            verdict = self.probe.check()
            stalled = self.probe.stalled_for()
        except Exception as exc:  # a probe failure is a "not ready", never a dead server
            verdict, stalled = Verdict(False, f"probe failed: {type(exc).__name__}"), 0.0
        with self._lock:
            if verdict != self._ready:
                log.info(
                    "readiness changed",
                    extra={"stage": self.stage, "ready": verdict.ok, "reason": verdict.reason},
                )
            self._ready, self._stalled_s = verdict, stalled

    def liveness(self) -> Verdict:
        if not self._worker.is_alive():
            return Verdict(False, "worker thread exited")
        with self._lock:
            stalled = self._stalled_s
        if stalled > 3 * self.config.stall_after_s:
            return Verdict(False, f"committed offsets stuck for {stalled:.0f}s with lag")
        return Verdict(True, "alive")

    def readiness(self) -> Verdict:
        live = self.liveness()
        if not live.ok:
            return live
        with self._lock:
            ready, stalled = self._ready, self._stalled_s
        if ready.ok and stalled > self.config.stall_after_s:
            return Verdict(False, f"stalled: committed offsets stuck for {stalled:.0f}s with lag")
        return ready


class HealthServer:
    """The HTTP server and the probe thread; ``close`` stops both."""

    def __init__(self, health: Health, registry: CollectorRegistry) -> None:
        self.health = health
        self.registry = registry
        self._stop = threading.Event()
        handler = _handler(health, registry)
        cfg = health.config
        self._http = ThreadingHTTPServer((cfg.host, cfg.port), handler)
        self._http.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._http.serve_forever, name="health-http", daemon=True),
            threading.Thread(target=self._probe_loop, name="health-probe", daemon=True),
        ]

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> HealthServer:
        for t in self._threads:
            t.start()
        log.info(
            "health server started",
            extra={"stage": self.health.stage, "host": self.health.config.host, "port": self.port},
        )
        return self

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            self.health.tick()
            self._stop.wait(self.health.config.probe_interval_s)

    def close(self) -> None:
        self._stop.set()
        self._http.shutdown()
        self._http.server_close()


def _handler(health: Health, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                v = health.liveness() if path == "/healthz" else health.readiness()
                self._send(200 if v.ok else 503, v.body(health.stage), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds: not worth a log line each

    return Handler


def serve(
    stage: str,
    config: HealthConfig,
    registry: CollectorRegistry,
    probe: Probe | None = None,
    samplers: Sequence[Callable[[], object]] = (),
) -> HealthServer | None:
    """Start the endpoints of one stage; ``None`` when ``config.port`` is 0 (off)."""
    if config.port == 0:
        return None
    return HealthServer(Health(stage, config, probe, samplers=samplers), registry).start()
