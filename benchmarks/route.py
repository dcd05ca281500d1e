"""Alert → webhook latency through the streaming router on the local stack.

A real `auditpipe run router` process (its own topics) delivers to a real local HTTP receiver.
Each alert has its own group (``group_by: [dedup_key]``, ``group_wait: 1ms``) so each one
becomes one notification; latency is from the alert's produce() to the receiver reading the
request, through the whole path: the by-rule hop, the router's turn (ingest, flush, state
written and acknowledged, offsets committed) and the signed HTTP POST. Alerts are paced
(alerts are rare by nature); the harness (receiver, router process) is the integration tests'.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from pipeline.kafka import clients
from pipeline.settings import Settings
from tests.integration.router_harness import HttpReceiver, RouterHarness, make_alert

ROUTING = """
resolve_timeout: 1h
route:
  receiver: hook
  group_by: [dedup_key]
  group_wait: 1ms
  group_interval: 1h
  repeat_interval: 1h
receivers:
  - {name: hook, type: webhook, url: "URL/hook", secret_env: T_HOOK_SECRET, timeout: 5s}
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def bench_route(settings: Settings, n: int = 300, rate: float = 20.0) -> dict[str, float]:
    """p50/p99 (ms) from alert produced to webhook received, ``n`` alerts at ``rate``/s."""
    conn = clients.connection(settings, "bench-route")
    http = HttpReceiver()
    with tempfile.TemporaryDirectory() as tmp:
        h = RouterHarness(settings, conn, ROUTING.replace("URL", http.url("")), Path(tmp))
        try:
            h.start()
            h.send_alerts([make_alert("bench.route", "warmup", dedup_key="warmup")])
            if not http.wait_for("/hook", timeout=120):
                raise RuntimeError(f"router did not deliver: {h.log.read_text()[-2000:]}")
            sent: dict[str, float] = {}
            t0 = time.time()
            for i in range(n):
                lag = t0 + i / rate - time.time()
                if lag > 0:
                    time.sleep(lag)
                key = f"bench-{i}"
                sent[key] = time.time()  # before produce(): the broker's ack is part of the path
                h.send_alerts([make_alert("bench.route", key, dedup_key=key)])
            http.wait_for("/hook", n=n + 1, timeout=60)
        finally:
            h.close()
            http.close()
    latencies = []
    for r in http.got("/hook"):
        key = r.body["alerts"][0]["dedup_key"]
        if key in sent:
            latencies.append((r.at - sent[key]) * 1000.0)
    if not latencies:
        raise RuntimeError("no alert was delivered")
    return {
        "alerts": float(n),
        "delivered": float(len(latencies)),
        "rate": rate,
        "p50_ms": _pct(latencies, 0.50),
        "p99_ms": _pct(latencies, 0.99),
        "mean_ms": statistics.fmean(latencies),
    }


if __name__ == "__main__":
    from pipeline.settings import load_settings

    print(bench_route(load_settings()))


def route_row(result: dict[str, float]) -> tuple[str, ...]:
    """The `make bench` table row (benchmark, events/s, per core, p50, p99, RSS)."""
    return (
        f"router: alert produced → signed webhook received ({result['rate']:.0f} alerts/s)",
        "-",
        "-",
        f"{result['p50_ms']:.1f}",
        f"{result['p99_ms']:.1f}",
        "-",
    )
