"""Detection engine throughput: generated events through all shipped rules, on one core."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.produce.generator import EventGenerator

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


if __name__ == "__main__":
    print(bench_detect(100_000))
