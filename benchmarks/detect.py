"""Detection throughput and latency, with all shipped rules, on the same generated events: the
offline engine on one core, and streaming detectors on the real broker (#17): (b) the shipped
``auditpipe run detector`` (our own commit-after-ack loop, state in a compacted changelog) and
(a) faust-streaming tuned on its public API (``benchmarks/detect_faust.py``). Per core = events
per CPU-second of the worker process (all its threads), which a shared machine disturbs far
less than wall time."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from pipeline.detect.changelog import changelog_topic
from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.events.jsonform import parse_ts
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.produce.generator import EventGenerator
from pipeline.settings import Settings
from tests.harness import detector_scenario as scenario
from tests.harness.detector_probe import (
    AlertCollector,
    EventFeed,
    committed_all,
    percentile,
    start_worker,
    stop_worker,
)

RULES = Path(__file__).resolve().parents[1] / "rules" / "detection"


def bench_detect(n: int) -> dict[str, float]:
    """Events/s (wall and per CPU second) of ``Engine.process`` over ``n`` generated events."""
    events = list(itertools.islice(EventGenerator(seed=1).events(), n))
    engine = Engine(load_rules(RULES))
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    alerts = 0
    for event in events:
        alerts += len(engine.process(event))
    alerts += len(engine.flush())
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {
        "events": float(n),
        "events_per_s": n / wall,
        "events_per_cpu_s": n / max(cpu, 1e-9),
        "alerts": float(alerts),
        "state_entries": float(len(engine.store)),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _faust_tuned(app_id: str, topics: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **{f"AUDITPIPE_TOPICS__{k.upper()}": v for k, v in topics.items()}}
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.detect_faust", app_id],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def bench_detect_stream(
    settings: Settings, n: int, rate: float, design: str = "loop", latency: bool = True
) -> dict[str, float]:
    """A streaming detector on the real broker: ``design`` "loop" is ``auditpipe run
    detector``, "faust-tuned" is option (a).

    Latency: every shipped rule's incidents (scenario) in benign background, produced at
    ``rate`` events/s; p50/p99 from each alert's triggering event (Kafka timestamp) to its
    arrival on the alerts topic. Throughput: ``n`` benign events produced flat out, timed until
    the worker has committed them all; per core = events per CPU second of the worker process.
    """
    rules = load_rules(RULES)
    run = uuid.uuid4().hex[:8]
    events, alerts, app_id = f"bench.{run}.events", f"bench.{run}.alerts", f"bench-det-{run}"
    conn = clients.connection(settings, "bench-detect")
    ensure_topics(conn, [TopicSpec(events, 3), TopicSpec(alerts, 3)])
    root = RULES.parents[1]
    topics = {"events": events, "alerts": alerts}
    if design == "loop":
        worker = start_worker(app_id, topics, cwd=root)
    else:
        worker = _faust_tuned(app_id, topics, root)
    collector = AlertCollector(conn, settings.registry_url, alerts, f"bench-r-{run}")
    try:
        feed = EventFeed(conn, settings.registry_url, events)
        sc = scenario.build(rules, background_events=4000, tag=run, copies=2, seed=11)
        bird = scenario.canary(sc.events[0]["ts"])
        feed.send([bird])  # worker start-up and partition assignment are not timed
        if collector.wait_for(scenario.oracle(rules, [bird]), 180):
            raise RuntimeError("the detector never alerted")
        missing: set[str] = set()
        lat: list[float] = []
        if latency:
            feed.send(sc.events, rate=rate)
            if not committed_all(conn, app_id, events, 120):
                raise RuntimeError("detector did not keep up with the latency run")
            missing = collector.wait_for(sc.expected, 10)
            got = collector.first_by_key()
            lat = [
                got[k].arrival - feed.stamps[e.trigger] for k, e in sc.expected.items() if k in got
            ]

        after = parse_ts(sc.events[-1]["ts"], "ts") + timedelta(minutes=1)
        bulk = scenario.background(n, seed=1, start=after, tag=f"{run}-bulk")
        cpu0, t0 = _cpu_seconds(worker.pid), time.perf_counter()
        feed.send(bulk)
        if not committed_all(conn, app_id, events, 600):
            raise RuntimeError("detector did not finish the throughput run")
        wall, cpu = time.perf_counter() - t0, _cpu_seconds(worker.pid) - cpu0
    finally:
        stop_worker(worker)
        collector.close()
        internal = [
            changelog_topic(app_id),  # also the faust table's changelog
            f"{app_id}-__assignor-__leader",
        ]
        delete_topics(conn, [events, alerts, *internal])
    return {
        "events": float(n),
        "events_per_s": n / wall,
        "events_per_cpu_s": n / max(cpu, 1e-9),
        "cpu_s": cpu,
        "alerts_expected": float(len(sc.expected)) if latency else 0.0,
        "alerts_missing": float(len(missing)),
        "latency_p50_ms": percentile(lat, 0.5) * 1000,
        "latency_p99_ms": percentile(lat, 0.99) * 1000,
    }


if __name__ == "__main__":
    from pipeline.settings import load_settings

    settings = load_settings()
    print("offline", bench_detect(100_000))
    print("(b) loop", bench_detect_stream(settings, 30_000, 400))
    print("(a) faust tuned", bench_detect_stream(settings, 30_000, 400, "faust-tuned", False))
