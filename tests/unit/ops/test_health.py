"""The health server's verdicts and endpoints (pure logic and a loopback HTTP server)."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from pipeline.ops.config import HealthConfig
from pipeline.ops.health import Health, HealthServer, Verdict, serve
from pipeline.ops.probe import ProgressAge
from pipeline.settings import Settings

CFG = HealthConfig(port=0, probe_interval_s=0.05, stall_after_s=10)


@dataclass
class FakeProbe:
    verdict: Verdict
    stalled: float = 0.0

    def check(self) -> Verdict:
        return self.verdict

    def stalled_for(self) -> float:
        return self.stalled


class BrokenProbe:
    def check(self) -> Verdict:
        raise RuntimeError("boom")

    def stalled_for(self) -> float:
        return 0.0


def test_not_ready_until_probed_then_follows_the_probe() -> None:
    probe = FakeProbe(Verdict(True, "3 partitions"))
    health = Health("s", CFG, probe)
    assert not health.readiness().ok
    assert health.liveness().ok
    health.tick()
    assert health.readiness() == Verdict(True, "3 partitions")
    probe.verdict = Verdict(False, "broker down")
    health.tick()
    assert health.readiness() == Verdict(False, "broker down")
    assert health.liveness().ok, "a broker outage is not a reason to restart the worker"


def test_stalled_is_not_ready_then_not_live() -> None:
    probe = FakeProbe(Verdict(True, "ok"), stalled=11)
    health = Health("s", CFG, probe)
    health.tick()
    assert not health.readiness().ok
    assert "stalled" in health.readiness().reason
    assert health.liveness().ok
    probe.stalled = 31
    health.tick()
    assert not health.liveness().ok


def test_a_failing_probe_means_not_ready() -> None:
    health = Health("s", CFG, BrokenProbe())
    health.tick()
    assert health.readiness() == Verdict(False, "probe failed: RuntimeError")


def test_dead_worker_thread_is_not_live() -> None:
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()
    health = Health("s", CFG, None, worker=worker)
    assert health.liveness() == Verdict(False, "worker thread exited")
    assert not health.readiness().ok


def test_samplers_run_each_tick_and_a_failing_one_is_contained() -> None:
    calls: list[int] = []

    def bad() -> None:
        raise ValueError("x")

    health = Health("s", CFG, None, samplers=[bad, lambda: calls.append(1)])
    health.tick()
    health.tick()
    assert calls == [1, 1]


def test_progress_age_grows_until_the_counter_moves() -> None:
    now = [100.0]
    count = [0]
    registry = CollectorRegistry()
    gauge = Gauge("age", "x", registry=registry)
    age = ProgressAge(lambda: count[0], gauge, clock=lambda: now[0])
    now[0] = 130.0
    assert age.sample() == 30.0
    count[0] = 1
    assert age.sample() == 0.0
    now[0] = 135.0
    assert age.sample() == 5.0
    assert registry.get_sample_value("age") == 5.0


@pytest.fixture
def server() -> Iterator[tuple[HealthServer, FakeProbe]]:
    registry = CollectorRegistry()
    Counter("auditpipe_test_things", "things", registry=registry).inc(3)
    probe = FakeProbe(Verdict(True, "ok"))
    srv = HealthServer(Health("sanitizer", CFG, probe), registry).start()
    yield srv, probe
    srv.close()


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_endpoints(server: tuple[HealthServer, FakeProbe]) -> None:
    srv, probe = server
    srv.health.tick()
    code, body = _get(srv.port, "/healthz")
    assert code == 200
    assert orjson.loads(body) == {"stage": "sanitizer", "ok": True, "reason": "alive"}
    assert _get(srv.port, "/readyz")[0] == 200
    code, body = _get(srv.port, "/metrics")
    assert code == 200
    assert b"auditpipe_test_things_total 3.0" in body
    assert _get(srv.port, "/nope")[0] == 404
    probe.verdict = Verdict(False, "group empty")
    srv.health.tick()
    code, body = _get(srv.port, "/readyz")
    assert code == 503
    assert orjson.loads(body)["reason"] == "group empty"


def test_port_zero_in_settings_means_no_server() -> None:
    assert serve("s", HealthConfig(), CollectorRegistry()) is None


def test_settings_read_the_health_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITPIPE_HEALTH__HOST", "10.1.2.3")
    monkeypatch.setenv("AUDITPIPE_HEALTH__PORT", "9400")
    health = Settings().health
    assert (health.host, health.port) == ("10.1.2.3", 9400)
    assert HealthConfig().host == "127.0.0.1", "loopback unless configured"
