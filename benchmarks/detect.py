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

from confluent_kafka import TopicPartition

from pipeline.detect.changelog import changelog_topic
from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.events.jsonform import parse_ts
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.produce.generator import EventGenerator
from pipeline.settings import Settings
from tests.harness import detector_scenario as scenario
from tests.harness.detector_probe import (
    AlertCollector,
    EventFeed,
    committed_all,
    end_offsets,
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


def _committed(conn: KafkaConnection, group: str, topic: str) -> int:
    """How many records of ``topic`` ``group`` has committed (sum over partitions)."""
    probe = clients.consumer(conn, group, {"enable.auto.commit": False})
    try:
        tps = [TopicPartition(topic, p) for p in end_offsets(probe, topic)]
        return sum(max(tp.offset, 0) for tp in probe.committed(tps, timeout=10))
    finally:
        probe.close()


def _wait_committed(
    conn: KafkaConnection, group: str, topic: str, at_least: int, pid: int, timeout: float = 600
) -> tuple[int, float, float]:
    """Wait until ``group`` committed ``at_least`` records; (committed, worker CPU s, time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = _committed(conn, group, topic)
        if done >= at_least:
            return done, _cpu_seconds(pid), time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError(f"{group} did not commit {at_least} records of {topic} in time")


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
    arrival on the alerts topic. Throughput, saturated like the offline row: the worker is
    stopped, ``n`` benign events are produced, the worker is started again; per core = events
    committed per CPU second of the worker process between its first commit past 10 % of them
    and the last (start-up and state restore excluded), wall likewise.
    """
    rules = load_rules(RULES)
    run = uuid.uuid4().hex[:8]
    events, alerts, app_id = f"bench.{run}.events", f"bench.{run}.alerts", f"bench-det-{run}"
    conn = clients.connection(settings, "bench-detect")
    ensure_topics(conn, [TopicSpec(events, 3), TopicSpec(alerts, 3)])
    root = RULES.parents[1]
    topics = {"events": events, "alerts": alerts}

    def start() -> subprocess.Popen[bytes]:
        if design == "loop":
            return start_worker(app_id, topics, cwd=root)
        return _faust_tuned(app_id, topics, root)

    worker = start()
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
        stop_worker(worker)
        before = _committed(conn, app_id, events)
        feed.send(bulk)
        worker = start()
        done0, cpu0, t0 = _wait_committed(conn, app_id, events, before + n // 10, worker.pid)
        done1, cpu1, t1 = _wait_committed(conn, app_id, events, before + n, worker.pid)
        counted, wall, cpu = done1 - done0, t1 - t0, cpu1 - cpu0
    finally:
        stop_worker(worker)
        collector.close()
        internal = [
            changelog_topic(app_id),  # also the faust table's changelog
            f"{app_id}-__assignor-__leader",
        ]
        delete_topics(conn, [events, alerts, *internal])
    return {
        "events": float(counted),
        "events_per_s": counted / wall,
        "events_per_cpu_s": counted / max(cpu, 1e-9),
        "cpu_s": cpu,
        "alerts_expected": float(len(sc.expected)) if latency else 0.0,
        "alerts_missing": float(len(missing)),
        "latency_p50_ms": percentile(lat, 0.5) * 1000,
        "latency_p99_ms": percentile(lat, 0.99) * 1000,
    }


def _state_memory(actors: int) -> dict[str, float]:
    """In this process: the state a worker holds for ``actors`` actors' 30-day new-value history
    (the shipped ``auth.new_country_login``: two countries each), as the engine keeps it after
    a restore; resident memory before and after."""
    import gc
    import resource

    import orjson

    from pipeline.detect.changelog import SlotStore
    from pipeline.detect.engine import SEP
    from pipeline.detect.state import GroupState, ValueHistory

    rules = load_rules(RULES)
    (rule,) = [d for d in rules.detections if d.block.new_value is not None]
    gc.collect()
    rss0 = _rss_bytes()
    store = SlotStore()
    base = 1_790_000_000_000_000
    record_bytes = 0
    for i in range(actors):
        actor = f"ps:1:{i:016x}{i:016x}"[:40]  # pseudonym-sized ids
        state = GroupState(
            group={"actor.id": actor},
            last=base + i,
            window=ValueHistory({"DE": base + i - 86_400_000_000, "FR": base + i}),
        )
        dict.__setitem__(store, rule.name + SEP + actor, state)
        if i < 1000:
            record_bytes += len(orjson.dumps(state.encode()))
    gc.collect()
    rss = _rss_bytes()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "actors": float(actors),
        "rss_mib": rss / 2**20,
        "peak_rss_mib": peak / 2**20,
        "bytes_per_actor_rule": (rss - rss0) / actors,
        "record_bytes_per_actor_rule": record_bytes / min(actors, 1000),
    }


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def bench_state_memory(actors: int = 1_000_000) -> dict[str, float]:
    """``_state_memory`` in a fresh interpreter (its resident memory is the state's alone)."""
    import orjson

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.detect", "memory", str(actors)],
        cwd=RULES.parents[1],
        capture_output=True,
        check=True,
    )
    result: dict[str, float] = orjson.loads(out.stdout.splitlines()[-1])
    return result


def bench_detect_all(settings: Settings, n: int = 30_000) -> dict[str, dict[str, float]]:
    """The rows of #17, in one run: offline engine, (b) the shipped loop, (a) faust tuned,
    and the state's memory for 1 M actors."""
    return {
        "offline": bench_detect(100_000),
        "loop": bench_detect_stream(settings, n, 400),
        "faust_tuned": bench_detect_stream(settings, n, 400, "faust-tuned", latency=False),
        "memory": bench_state_memory(),
    }


def detect_rows(r: dict[str, dict[str, float]]) -> list[tuple[str, ...]]:
    """Table rows: (benchmark, events/s, events/s per core, p50 ms, p99 ms, RSS MiB)."""
    offline, loop, tuned, mem = r["offline"], r["loop"], r["faust_tuned"], r["memory"]
    ceiling = offline["events_per_cpu_s"]

    def share(row: dict[str, float]) -> str:
        return f"{row['events_per_cpu_s']:,.0f} ({row['events_per_cpu_s'] / ceiling:.0%})"

    return [
        ("detection engine (offline, 7 rules)", f"{offline['events_per_s']:,.0f}",
         f"{ceiling:,.0f} (100%)", "-", "-", "-"),
        ("(b) streaming detector: own loop, changelog topic (shipped)",
         f"{loop['events_per_s']:,.0f}", share(loop), f"{loop['latency_p50_ms']:.1f}",
         f"{loop['latency_p99_ms']:.1f}", "-"),
        ("(a) faust tuned: take_events, decode once, coalesced table writes",
         f"{tuned['events_per_s']:,.0f}", share(tuned), "-", "-", "-"),
        ("(c) Quix Streams", "not measured", "-", "-", "-", "-"),
        (f"detector state: {mem['actors'] / 1e6:.0f} M actors' 30-day new-value history "
         f"({mem['bytes_per_actor_rule']:.0f} B/actor in memory, "
         f"{mem['record_bytes_per_actor_rule']:.0f} B record)",
         "-", "-", "-", "-", f"{mem['rss_mib']:,.0f}"),
    ]  # fmt: skip


if __name__ == "__main__":
    import orjson

    if sys.argv[1:2] == ["memory"]:
        print(orjson.dumps(_state_memory(int(sys.argv[2]))).decode())
        sys.exit(0)
    from pipeline.settings import load_settings

    results = bench_detect_all(load_settings())
    for row in detect_rows(results):
        print(" | ".join(row))
