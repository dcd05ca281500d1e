"""Scrubber throughput on one core, on ~1 KB generated events.

(a) the ceiling of the sanitizer's hot path: fastavro decode -> scrub (detect and treat free
    text, HMAC-SHA256 pseudonyms, truncate IPs) -> fastavro encode, in a tight loop;
(b) the offline command's path: JSON form loads -> scrub -> dumps;
(c) the streaming stage (pipeline.kafka.stage.BatchStage + SanitizerProcessor, the code
    `auditpipe run sanitizer` runs) on the real broker, in a child process pinned to one core:
    events/s from a preloaded backlog, then p50/p99 latency at a steady rate, from the raw
    record's produce time to its output being acknowledged (and the input committed).
Also, per scan engine, (a) again, and the decode -> HMAC -> encode baseline without a scan.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import logging
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

import fastavro
from confluent_kafka import Message, Producer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.stage import BatchStage, Output, StageConfig, StageStats
from pipeline.produce.generator import EventGenerator
from pipeline.sanitizer.metrics import SanitizerMetrics
from pipeline.sanitizer.runner import build_processor
from pipeline.scrub import Scrubber, dev_keys, load_policy
from pipeline.settings import Settings, load_settings

# benign operational text, so events are ~1 KB like production ones (the generator's are
# ~350 B in Avro); it contains digits, dots, colons and versions but nothing to redact
_PAD = (
    "upstream billing-api v2.14.3 answered 200 in 38 ms after 2 retries; cache hit ratio "
    "0.93, queue depth 17, shard 4/16, build 2026.11.01-rc2, region eu-central-1, "
    "request size 18342 bytes, response size 5120 bytes, feature flags new-checkout=on "
    "dark-mode=off, worker pid 48213 on node ip-internal-7, deadline 2026-11-01T10:00:05Z, "
    "trace sampled=true, retries exhausted=false, circuit state closed, pool 12/64 in use, "
    "tls 1.3 with x25519, http/2 stream 1337, compression ratio 3.7, gc pause 4 ms"
)


def _events(n: int) -> list[dict[str, Any]]:
    docs = list(itertools.islice(EventGenerator(seed=7).events(), n))
    for doc in docs:
        doc["details"] = {**doc["details"], "message": _PAD}
    return docs


def _decode(raw: bytes, writer: Any) -> dict[str, Any]:
    return cast(dict[str, Any], fastavro.schemaless_reader(io.BytesIO(raw), writer, None))


def _timed(n: int, step: Callable[[int], object]) -> float:
    """Events per CPU second of ``step`` over ``n`` items (process time: one core)."""
    cpu0 = time.process_time()
    for i in range(n):
        step(i)
    return n / max(time.process_time() - cpu0, 1e-9)


def _ceiling_step(n: int) -> Callable[[int], object]:
    """(a)'s loop body over ``n`` generated events: decode, scrub (shipped policy, default
    engine), encode."""
    schema = parsed_schema(AUDIT_EVENT)
    writer = fastavro.parse_schema(raw_schema(AUDIT_EVENT))
    encoded = []
    for doc in _events(n):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, jsonform.from_json(schema, doc))
        encoded.append(buf.getvalue())
    scrub = Scrubber(load_policy(), dev_keys()).scrub

    def step(i: int) -> object:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, writer, scrub(_decode(encoded[i], writer)))
        return out

    return step


def bench_scrub(n: int) -> dict[str, float]:
    schema = parsed_schema(AUDIT_EVENT)
    writer = fastavro.parse_schema(raw_schema(AUDIT_EVENT))
    docs = _events(n)
    encoded: list[bytes] = []
    for doc in docs:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, jsonform.from_json(schema, doc))
        encoded.append(buf.getvalue())
    lines = [jsonform.dumps(schema, jsonform.from_json(schema, d)) for d in docs]
    policy = load_policy()
    keys = dev_keys()
    mac = hmac.new(keys.active_key, digestmod=hashlib.sha256)

    def avro_path(scrub: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[int], object]:
        def step(i: int) -> object:
            datum = _decode(encoded[i], writer)
            out = io.BytesIO()
            fastavro.schemaless_writer(out, writer, scrub(datum))
            return out

        return step

    def hmac_only(datum: dict[str, Any]) -> dict[str, Any]:
        m = mac.copy()
        m.update(datum["actor"]["id"].encode())
        datum["actor"]["id"] = "ps:dev:" + m.hexdigest()[:32]
        return datum

    result: dict[str, float] = {
        "events": float(n),
        "event_bytes_avg": sum(len(e) for e in encoded) / n,
        "json_bytes_avg": sum(len(line) for line in lines) / n,
        "baseline_decode_hmac_encode_per_s": _timed(n, avro_path(hmac_only)),
    }
    for engine in ("hyperscan", "re2", "re"):
        scrubber = Scrubber(policy, keys, engine=engine)
        result[f"ceiling_{engine}_per_s"] = _timed(n, avro_path(scrubber.scrub))
    scrubber = Scrubber(policy, keys)
    datums = [_decode(e, writer) for e in encoded]
    result["scrub_only_per_s"] = _timed(n, lambda i: scrubber.scrub(datums[i]))
    result["ceiling_per_s"] = result[f"ceiling_{scrubber.scanner.name}_per_s"]
    result["offline_per_s"] = _timed(
        n, lambda i: jsonform.dumps(schema, scrubber.scrub(jsonform.loads(schema, lines[i])))
    )
    return result


# --- (c) the streaming stage on the broker -----------------------------------------------


def _stage_child(
    settings: Settings,
    topics: tuple[str, str, str],
    group: str,
    expect: int,
    cpu: int | None,
    results: Any,
) -> None:
    """Run the sanitizer stage over ``topics[0]`` until ``expect`` records are committed.

    Reports, through ``results``: "ready" after the first batch (the warm-up record), then
    the run's counts, wall and CPU time from the first measured record to the last commit,
    and the latency of each measured record (produce time -> output acked and input
    committed)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # librdkafka's threads, started below, inherit it
    raw_topic, events_topic, dlq_topic = topics
    scrub = Scrubber(load_policy(), dev_keys()).scrub_owned  # as build_scrub() gives the stage
    conf = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(update={"events": events_topic, "dlq": dlq_topic}),
            "dlq_key": SecretStr(os.urandom(32).hex()),
        }
    )
    inner = build_processor(conf, scrub, SanitizerMetrics(CollectorRegistry()))
    conn = clients.connection(conf, "bench-sanitizer")
    pending: list[int] = []
    latencies: list[float] = []
    clock: dict[str, float] = {}

    class Timed:
        def process(self, msg: Message) -> Sequence[Output]:
            if "t0" not in clock and clock.get("ready"):
                clock["t0"], clock["cpu0"] = time.perf_counter(), time.process_time()
            pending.append(msg.timestamp()[1])
            return inner.process(msg)

    def on_batch(stats: StageStats) -> None:
        now_ms = time.time() * 1000
        if not clock.get("ready"):  # the warm-up batch: not measured
            clock["ready"] = 1.0
            pending.clear()
            results.put("ready")
            return
        latencies.extend(now_ms - ts for ts in pending)
        pending.clear()
        if len(latencies) >= expect:
            clock["t1"], clock["cpu1"] = time.perf_counter(), time.process_time()
            stage.stop()

    stage = BatchStage(
        conn,
        StageConfig(group_id=group, topics=[raw_topic], batch_size=1000),
        Timed(),
        on_batch=on_batch,
    )
    stats = stage.run()
    # (a) again, in this process on this core, right after: the fairest basis for (c)/(a)
    ceiling = _timed(min(expect, 5000), _ceiling_step(min(expect, 5000)))
    results.put(
        {
            "ceiling_same_core_per_s": ceiling,
            "consumed": float(len(latencies)),
            "wall_s": clock["t1"] - clock["t0"],
            "cpu_s": clock["cpu1"] - clock["cpu0"],
            "latencies_ms": latencies,
            "dead_letters": float(sum(inner.counters.dead_letters.values())),
            "batches": float(stats.batches),
        }
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _stage_run(
    settings: Settings, encoded: list[bytes], rate: float | None, cpu: int | None
) -> dict[str, Any]:
    """One run on fresh topics: start the stage, warm it up with one record, then produce
    ``encoded`` (all at once, or paced at ``rate``/s) and wait for the stage's report."""
    run = uuid.uuid4().hex[:8]
    topics = (f"bench.sanitizer.{run}.raw", f"bench.sanitizer.{run}.events", f"bench.{run}.dlq")
    conn = clients.connection(settings, "bench-load")
    ensure_topics(conn, [TopicSpec(t, partitions=3) for t in topics])
    producer = clients.producer(
        conn,
        {"acks": "all", "linger.ms": 5, "compression.type": "zstd"},
        logger=logging.getLogger("benchmarks.scrub"),
    )
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(
        target=_stage_child,
        args=(settings, topics, f"bench-sanitizer-{run}", len(encoded), cpu, results),
    )
    child.start()
    try:
        producer.produce(topics[0], encoded[0], b"warm-up")  # the warm-up record
        producer.flush(30)
        if results.get(timeout=120) != "ready":
            raise RuntimeError("the stage did not start")
        if cpu is not None:  # the load generator stays off the stage's core
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)) - {cpu} or {cpu})
        if rate is None:
            for i, value in enumerate(encoded):
                _produce(producer, topics[0], value, str(i % 97).encode())
        else:
            t0 = time.perf_counter()
            for i, value in enumerate(encoded):
                lag = t0 + i / rate - time.perf_counter()
                if lag > 0:
                    time.sleep(lag)
                _produce(producer, topics[0], value, str(i % 97).encode())
                producer.poll(0)
        producer.flush(60)
        report: dict[str, Any] = results.get(timeout=600)
    finally:
        if cpu is not None:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        child.join(30)
        if child.is_alive():
            child.kill()
        delete_topics(conn, list(topics))
    return report


def _produce(producer: Producer, topic: str, value: bytes, key: bytes) -> None:
    """Keyed, as raw topics are (the sanitizer dead-letters a record without a key)."""
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            producer.poll(0.05)


def bench_stream(settings: Settings, n: int, rate: float | None = None) -> dict[str, float]:
    """(c): events/s of the stage draining ``n`` preloaded events on one core, then latency
    percentiles at ``rate`` events/s (default: half the measured throughput, at most 2,000/s)
    for about 10 s."""
    serde = AvroSerde(registry_client(settings.registry_url), AUDIT_EVENT)
    schema = parsed_schema(AUDIT_EVENT)
    encoded = [serde.serialize(jsonform.from_json(schema, d), "bench") for d in _events(n)]
    cpu = 0 if hasattr(os, "sched_setaffinity") else None
    backlog = _stage_run(settings, encoded, None, cpu)
    per_s = backlog["consumed"] / backlog["wall_s"]
    paced_rate = rate or min(2000.0, round(per_s / 2, -2) or 100.0)
    paced = _stage_run(settings, encoded[: int(paced_rate * 10)], paced_rate, cpu)
    lat = paced["latencies_ms"]
    per_cpu_s = backlog["consumed"] / max(backlog["cpu_s"], 1e-9)
    return {
        "events": backlog["consumed"],
        "stage_per_s": per_s,
        "stage_per_cpu_s": per_cpu_s,
        "ceiling_same_core_per_s": backlog["ceiling_same_core_per_s"],
        "stage_vs_ceiling_pct": 100 * per_cpu_s / backlog["ceiling_same_core_per_s"],
        "paced_rate": paced_rate,
        "paced_per_s": paced["consumed"] / paced["wall_s"],
        "latency_p50_ms": _percentile(lat, 0.50),
        "latency_p99_ms": _percentile(lat, 0.99),
        "latency_max_ms": max(lat),
        "dead_letters": backlog["dead_letters"] + paced["dead_letters"],
    }


if __name__ == "__main__":
    import sys

    if "--stream" in sys.argv:
        for key, value in bench_stream(load_settings(), 50_000).items():
            print(f"{key:40} {value:>12,.1f}")
    else:
        for key, value in bench_scrub(20_000).items():
            print(f"{key:40} {value:>12,.1f}")
