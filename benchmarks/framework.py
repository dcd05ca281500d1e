"""The framework's cost, side by side (issue #18): the sanitizer's work on the same events, run
by four loops, each measured in events per CPU second of the process doing it (the machine is
shared: wall-clock rates are also given but are noisy).

1. **tight loop**: ``SanitizerProcessor.process`` (decode + validate, enrich, scrub, encode: all
   of the sanitizer's per-record work) over in-memory records, no Kafka: the ceiling of any
   loop around it. (The older "(a) sanitize ceiling" row of benchmarks/scrub.py is decode, scrub,
   encode only.)
2. **our stage**: ``BatchStage`` with the processor (the code ``auditpipe run sanitizer`` runs),
   commit after every batch's outputs are acknowledged. (Row "(c)" of benchmarks/scrub.py
   measures it too, with the load produced meanwhile, and its latency.)
3. **plain confluent-kafka loop**: consume a batch → process → produce → wait for every ack →
   commit synchronously; no framework (clients built by ``pipeline.kafka.clients``, the same
   producer settings as the stage: idempotent, acks=all, linger 5 ms, zstd).
4. **Quix Streams**: an ``Application`` with one ``apply`` calling the same processor, in the
   bench venv ``.bench-venv`` (``benchmarks/quix_worker.py``, a subprocess: ``quixstreams`` is
   not a project dependency); its defaults (at-least-once, checkpoint every 5 s: flush, then
   commit). A missing venv or package gives a "skipped" row.

Rows 2-4 drain the same preloaded backlog (3 partitions); every row runs in a fresh process
pinned to core 0; the clock and the CPU time run from the first record to the last one's
commit. Rows 1-3 run twice, interleaved, keeping the best round (the machine is shared).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sysconfig
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Message
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from benchmarks.scrub import _events, _produce
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.stage import BatchStage, Output, StageConfig, StageStats
from pipeline.sanitizer.metrics import SanitizerMetrics
from pipeline.sanitizer.processor import SanitizerProcessor
from pipeline.sanitizer.runner import build_processor
from pipeline.scrub import Scrubber, dev_keys, load_policy
from pipeline.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
QUIX_WORKER = Path(__file__).with_name("quix_worker.py")
PARTITIONS = 3


class Record:
    """What ``SanitizerProcessor.process`` reads of a confluent-kafka ``Message``."""

    __slots__ = ("_key", "_offset", "_partition", "_topic", "_ts", "_value")

    def __init__(
        self, value: bytes, key: bytes | None, topic: str, partition: int, offset: int, ts: int
    ) -> None:
        self._value, self._key, self._topic = value, key, topic
        self._partition, self._offset, self._ts = partition, offset, ts

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._ts)  # TIMESTAMP_CREATE_TIME


def processor(settings: Settings, events_topic: str, dlq_topic: str) -> SanitizerProcessor:
    """The sanitizer's processor as ``auditpipe run sanitizer`` builds it (shipped policy, the
    default engine, the service catalog), writing to the given topics."""
    conf = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(update={"events": events_topic, "dlq": dlq_topic}),
            "dlq_key": SecretStr(os.urandom(32).hex()),
        }
    )
    scrub = Scrubber(load_policy(), dev_keys()).scrub_owned  # as build_scrub() gives the stage
    return build_processor(conf, scrub, SanitizerMetrics(CollectorRegistry()))


def encoded_events(settings: Settings, n: int) -> list[bytes]:
    """The events of the scrubber rows (benchmarks/scrub.py), in the Confluent wire format."""
    serde = AvroSerde(registry_client(settings.registry_url), AUDIT_EVENT)
    schema = parsed_schema(AUDIT_EVENT)
    return [serde.serialize(jsonform.from_json(schema, d), "bench") for d in _events(n)]


def _tight_child(settings: Settings, encoded: list[bytes], cpu: int | None, results: Any) -> None:
    """Row 1: the processor over in-memory records, no Kafka."""
    _pin(cpu)
    proc = processor(settings, "bench.events", "bench.dlq")
    now = int(time.time() * 1000)
    records = [Record(v, None, "bench.raw", i % PARTITIONS, i, now) for i, v in enumerate(encoded)]
    proc.process(records[0])  # registers the output schema (once, like the stage's warm-up)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for r in records:
        proc.process(r)
    used, wall = time.process_time() - cpu0, time.perf_counter() - t0
    n = len(records)
    results.put({"events": float(n), "per_s": n / wall, "per_cpu_s": n / max(used, 1e-9)})


# --- rows 3 and 4: a preloaded backlog drained by a loop on one core ---------------------------


@contextmanager
def backlog(settings: Settings, encoded: list[bytes]) -> Iterator[tuple[str, str, str]]:
    """Fresh raw/events/DLQ topics with ``encoded`` produced to the raw one (deleted after)."""
    run = uuid.uuid4().hex[:8]
    names = (f"bench.fw.{run}.raw", f"bench.fw.{run}.events", f"bench.fw.{run}.dlq")
    conn = clients.connection(settings, "bench-load")
    ensure_topics(conn, [TopicSpec(t, partitions=PARTITIONS) for t in names])
    producer = clients.producer(
        conn,
        {"acks": "all", "linger.ms": 5, "compression.type": "zstd"},
        logger=logging.getLogger("benchmarks.framework"),
    )
    try:
        for i, value in enumerate(encoded):
            _produce(producer, names[0], value, str(i % 97).encode())
        if producer.flush(120):
            raise RuntimeError("backlog not acknowledged")
        yield names
    finally:
        delete_topics(conn, list(names))


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})  # librdkafka's threads, started after, inherit it


def _plain_child(
    settings: Settings, names: tuple[str, str, str], n: int, cpu: int | None, results: Any
) -> None:
    """Row 3: a hand-written loop, the way a confluent-kafka user writes one."""
    _pin(cpu)
    raw, events, dlq = names
    proc = processor(settings, events, dlq)
    conn = clients.connection(settings, "bench-plain-loop")
    consumer = clients.consumer(
        conn,
        f"bench-plain-{uuid.uuid4().hex[:8]}",
        {"enable.auto.commit": False, "auto.offset.reset": "earliest"},
    )
    producer = clients.producer(
        conn,
        {"enable.idempotence": True, "acks": "all", "linger.ms": 5, "compression.type": "zstd"},
    )
    consumer.subscribe([raw])
    done = 0
    cpu0 = t0 = 0.0
    failed: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    while done < n:
        batch = consumer.consume(1000, 0.5)
        if not batch:
            continue
        if not done:
            cpu0, t0 = time.process_time(), time.perf_counter()
        for msg in batch:
            if msg.error() is not None:
                continue
            for out in proc.process(msg):
                while True:
                    try:
                        producer.produce(out.topic, out.value, out.key, on_delivery=on_delivery)
                        break
                    except BufferError:
                        producer.poll(0.05)
            done += 1
        producer.flush(60)  # every output acknowledged before the input is committed
        if failed:
            raise RuntimeError(f"{len(failed)} outputs failed")
        consumer.commit(asynchronous=False)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    consumer.close()
    results.put({"events": float(done), "per_s": done / wall, "per_cpu_s": done / max(cpu, 1e-9)})


def _stage_child(
    settings: Settings, names: tuple[str, str, str], n: int, cpu: int | None, results: Any
) -> None:
    """Row 2: ``BatchStage`` (what ``auditpipe run sanitizer`` runs) over the backlog."""
    _pin(cpu)
    raw, events, dlq = names
    proc = processor(settings, events, dlq)
    conn = clients.connection(settings, "bench-stage-loop")
    clock: dict[str, float] = {}

    class Timed:
        def process(self, msg: Message) -> Sequence[Output]:
            if "t0" not in clock:
                clock["t0"], clock["cpu0"] = time.perf_counter(), time.process_time()
            return proc.process(msg)

    def on_batch(stats: StageStats) -> None:
        if stats.consumed >= n:
            clock["t1"], clock["cpu1"] = time.perf_counter(), time.process_time()
            stage.stop()

    group = f"bench-stage-{uuid.uuid4().hex[:8]}"
    stage = BatchStage(
        conn, StageConfig(group_id=group, topics=[raw], batch_size=1000), Timed(), on_batch=on_batch
    )
    stats = stage.run()
    done = float(stats.consumed)
    wall, used = clock["t1"] - clock["t0"], clock["cpu1"] - clock["cpu0"]
    results.put({"events": done, "per_s": done / wall, "per_cpu_s": done / max(used, 1e-9)})


def _in_child(target: Any, *args: Any) -> dict[str, float]:
    """Run ``target(*args, results)`` in a fresh (spawned) process; its report."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=target, args=(*args, results))
    child.start()
    try:
        report: dict[str, float] = results.get(timeout=600)
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
    return report


def bench_tight_loop(
    settings: Settings, encoded: list[bytes], cpu: int | None = 0
) -> dict[str, float]:
    return _in_child(_tight_child, settings, encoded, cpu)


def bench_stage_loop(
    settings: Settings, encoded: list[bytes], cpu: int | None = 0
) -> dict[str, float]:
    with backlog(settings, encoded) as names:
        return _in_child(_stage_child, settings, names, len(encoded), cpu)


def bench_plain_loop(
    settings: Settings, encoded: list[bytes], cpu: int | None = 0
) -> dict[str, float]:
    with backlog(settings, encoded) as names:
        return _in_child(_plain_child, settings, names, len(encoded), cpu)


def bench_quix(settings: Settings, encoded: list[bytes], cpu: int | None = 0) -> dict[str, Any]:
    """Row 4, in the bench venv; ``{"skipped": reason}`` without it."""
    if not VENV_PYTHON.exists():
        return {"skipped": "no .bench-venv (make bench-env)"}
    probe = subprocess.run(
        [str(VENV_PYTHON), "-c", "import quixstreams; print(quixstreams.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return {"skipped": "quixstreams missing in .bench-venv"}
    with backlog(settings, encoded) as names:
        job = {
            "bootstrap": settings.kafka_bootstrap,
            "topics": names,
            "group": f"bench-quix-{uuid.uuid4().hex[:8]}",
            "events": len(encoded),
            "cpu": cpu,
            # the worker imports the project's processor: the project first, then this venv's
            # packages after Quix's own (Quix keeps its pinned client library)
            "paths": [str(ROOT), sysconfig.get_paths()["purelib"]],
        }
        done = subprocess.run(
            [str(VENV_PYTHON), str(QUIX_WORKER)],
            input=orjson.dumps(job),
            capture_output=True,
            check=False,
            timeout=900,
            cwd=ROOT,
        )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return {"skipped": f"quix worker failed: {tail[0][:120] if tail else done.returncode}"}
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    result["version"] = probe.stdout.strip()
    return result


def bench_framework(settings: Settings, n: int, rounds: int = 2) -> dict[str, Any]:
    """The four rows on the same ``n`` events, each in a fresh process pinned to core 0; rows
    1-3 run ``rounds`` times, interleaved, and keep their best round (the machine is shared:
    the best is the least disturbed); Quix once (its start-up is slow)."""
    encoded = encoded_events(settings, n)
    runs: dict[str, list[dict[str, float]]] = {"tight_loop": [], "stage": [], "plain_loop": []}
    for _ in range(rounds):
        runs["tight_loop"].append(bench_tight_loop(settings, encoded))
        runs["stage"].append(bench_stage_loop(settings, encoded))
        runs["plain_loop"].append(bench_plain_loop(settings, encoded))
    out: dict[str, Any] = {"events": n, "rounds": rounds}
    for name, results in runs.items():
        out[name] = max(results, key=lambda r: r["per_cpu_s"])
        out[name]["rounds_per_cpu_s"] = [r["per_cpu_s"] for r in results]
    out["quix"] = bench_quix(settings, encoded)
    return out


if __name__ == "__main__":
    print(
        orjson.dumps(bench_framework(load_settings(), 20_000), option=orjson.OPT_INDENT_2).decode()
    )


def framework_rows(fw: dict[str, Any]) -> list[tuple[str, ...]]:
    """The four side-by-side rows (benchmark, events/s, per core, p50, p99, RSS) for the table."""
    tight = fw["tight_loop"]["per_cpu_s"]

    def row(label: str, per_s: float, per_cpu_s: float) -> tuple[str, ...]:
        share = f"{per_cpu_s / tight:.0%} of [1]"
        return (f"{label}: {share}", f"{per_s:,.0f}", f"{per_cpu_s:,.0f}", "-", "-", "-")

    t, plain, quix = fw["tight_loop"], fw["plain_loop"], fw["quix"]
    rows = [
        (
            f"[1] sanitizer work in a tight loop (decode+validate, enrich, scrub, encode; "
            f"no Kafka; {fw['events']:,} events)",
            f"{t['per_s']:,.0f}",
            f"{tight:,.0f}",
            "-",
            "-",
            "-",
        ),
        row(
            "[2] our stage (BatchStage, as in (c))", fw["stage"]["per_s"], fw["stage"]["per_cpu_s"]
        ),
        row("[3] plain confluent-kafka loop", plain["per_s"], plain["per_cpu_s"]),
    ]
    if "skipped" in quix:
        rows.append((f"[4] Quix Streams: skipped ({quix['skipped']})", "-", "-", "-", "-", "-"))
    else:
        rows.append(row(f"[4] Quix Streams {quix['version']}", quix["per_s"], quix["per_cpu_s"]))
    return rows
