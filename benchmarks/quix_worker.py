"""Row 4 of benchmarks/framework.py: the sanitizer's processor inside a Quix Streams
``Application``. Runs in the bench venv (``.bench-venv``, where ``quixstreams`` is installed),
never in the project's; the project and its packages are appended to ``sys.path`` after Quix's
own, so Quix keeps the client library it pins.

stdin: one JSON document {"bootstrap", "topics": [raw, events, dlq], "group", "events", "cpu",
"paths"}. stdout: one JSON line {"events", "per_s", "per_cpu_s", "dead_letters"}: from the first
record to the end of ``Application.run()`` (its last checkpoint: flush, then commit).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any


def main() -> None:
    job = json.load(sys.stdin)
    project, site = job["paths"]
    sys.path.insert(0, project)
    sys.path.append(site)
    if job["cpu"] is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {job["cpu"]})
    logging.disable(logging.WARNING)

    from quixstreams import Application, message_context

    from benchmarks.framework import Record, processor
    from pipeline.settings import load_settings

    raw, events, dlq = job["topics"]
    proc = processor(load_settings(), events, dlq)
    app = Application(
        broker_address=job["bootstrap"],
        consumer_group=job["group"],
        auto_offset_reset="earliest",
        loglevel="WARNING",
    )
    source = app.topic(raw, value_deserializer="bytes", key_deserializer="bytes")
    sink = app.topic(events, value_serializer="bytes", key_serializer="bytes")
    state: dict[str, Any] = {"done": 0, "dead": 0}
    total = int(job["events"])

    def work(value: bytes, key: Any, timestamp: int, _headers: Any) -> bytes | None:
        if not state["done"]:
            state["cpu0"], state["t0"] = time.process_time(), time.perf_counter()
        ctx = message_context()
        rec = Record(value, key, ctx.topic, ctx.partition, ctx.offset, timestamp)
        outs = proc.process(rec)  # type: ignore[arg-type]
        state["done"] += 1
        if state["done"] >= total:
            app.stop()
        out = outs[0]
        if out.topic != events:
            state["dead"] += 1
            return None
        return out.value

    sdf = app.dataframe(source)
    sdf = sdf.apply(work, metadata=True).filter(lambda v: v is not None)
    sdf.to_topic(sink)
    app.run()
    cpu = time.process_time() - state["cpu0"]
    wall = time.perf_counter() - state["t0"]
    n = state["done"]
    print(
        json.dumps(
            {
                "events": n,
                "per_s": n / wall,
                "per_cpu_s": n / max(cpu, 1e-9),
                "dead_letters": state["dead"],
            }
        )
    )


if __name__ == "__main__":
    main()
