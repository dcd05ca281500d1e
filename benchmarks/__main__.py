"""`make bench`: measure the pieces that exist so far and print one table.

Today: raw Kafka throughput of an idempotent, zstd-compressed producer and a consumer on the
local broker (events/s per core, end-to-end latency percentiles, peak RSS). Each stage adds its
rows here as it lands. Results are also written to benchmarks/results/<UTC time>.json.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from benchmarks.adversarial import worst_case
from benchmarks.archive import bench_archive, bench_archive_s3
from benchmarks.detect import bench_detect_all, detect_rows
from benchmarks.e2e import bench_e2e, e2e_rows
from benchmarks.framework import bench_framework, framework_rows
from benchmarks.presidio import bench_presidio, presidio_json
from benchmarks.privacy import bench_privacy, comparison_tables, privacy_json, privacy_tables
from benchmarks.replay import bench_replay_archive, bench_replay_kafka, bench_trace
from benchmarks.route import bench_route, route_row
from benchmarks.scrub import bench_scrub, bench_stream
from benchmarks.sdk import bench_sdk
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import load_settings


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def bench_kafka(
    conn: KafkaConnection, n: int, size: int, rate: float | None = None
) -> dict[str, float | int | str]:
    """Produce ``n`` events (as fast as possible, or paced at ``rate``/s), then read them."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    ensure_topics(
        conn,
        [TopicSpec(topic, partitions=3, config={"message.timestamp.type": "LogAppendTime"})],
    )
    try:
        producer = clients.producer(
            conn,
            {
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "zstd",
                "linger.ms": 5,
                "batch.size": 256 * 1024,
            },
        )
        pad = "x" * max(0, size - 120)
        # warm up: metadata and the idempotent producer id are fetched before timing starts
        producer.produce(topic, key="warmup", value=orjson.dumps({"warmup": True}))
        producer.flush(30)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for i in range(n):
            if rate is not None:
                lag = t0 + i / rate - time.perf_counter()
                if lag > 0:
                    time.sleep(lag)
            doc = {"event_id": str(uuid.uuid4()), "sent_ns": time.time_ns(), "i": i, "pad": pad}
            while True:
                try:
                    producer.produce(topic, key=str(i % 97), value=orjson.dumps(doc))
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        producer.flush(60)
        produce_s = time.perf_counter() - t0
        produce_cpu = time.process_time() - cpu0

        consumer = clients.consumer(
            conn,
            f"bench-{uuid.uuid4()}",
            {"auto.offset.reset": "earliest", "enable.auto.commit": False},
        )
        consumer.subscribe([topic])
        latencies_ms: list[float] = []
        got = 0
        cpu1 = time.process_time()
        t1 = time.perf_counter()
        deadline = time.monotonic() + 120
        while got < n and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                value = msg.value()
                if msg.error() or value is None:
                    continue
                doc = orjson.loads(value)
                if doc.get("warmup"):
                    continue
                got += 1
                ts_type, ts_ms = msg.timestamp()
                latencies_ms.append((ts_ms * 1e6 - doc["sent_ns"]) / 1e6 if ts_type else 0.0)
        consume_s = time.perf_counter() - t1
        consume_cpu = time.process_time() - cpu1
        consumer.close()
    finally:
        delete_topics(conn, [topic])
    return {
        "events": n,
        "event_bytes": size,
        "produce_events_per_s": n / produce_s,
        "produce_events_per_cpu_s": n / max(produce_cpu, 1e-9),
        "consume_events_per_s": got / consume_s,
        "consume_events_per_cpu_s": got / max(consume_cpu, 1e-9),
        "produce_to_broker_p50_ms": _percentile(latencies_ms, 0.50),
        "produce_to_broker_p99_ms": _percentile(latencies_ms, 0.99),
        "produce_to_broker_mean_ms": statistics.fmean(latencies_ms) if latencies_ms else 0.0,
        "consumed": got,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=600, help="approximate event size in bytes")
    parser.add_argument("--sdk-events", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=2000, help="events/s of the latency run")
    parser.add_argument("--e2e-rate", type=int, default=300, help="events/s of the e2e run")
    args = parser.parse_args()
    settings = load_settings()
    conn = clients.connection(settings, "auditpipe-bench")
    console = Console(width=max(120, Console().width))
    with console.status(f"kafka: {args.events} events of ~{args.size} B"):
        kafka = bench_kafka(conn, args.events, args.size)
    with console.status(f"kafka latency: {args.rate} events/s for 5 s"):
        paced = bench_kafka(conn, args.rate * 5, args.size, rate=args.rate)
    with console.status(f"SDK: {args.sdk_events} events through AuditProducer"):
        sdk = bench_sdk(settings, args.sdk_events)
        sdk_raw = bench_sdk(settings, args.sdk_events, scrub=False)
    with console.status("detector (#17): offline engine, (b) own loop, (a) faust tuned, memory"):
        detect = bench_detect_all(settings)
    with console.status("scrubber: 20k ~1 KB events, three regex engines"):
        scrub = bench_scrub(20_000)
    with console.status("detectors on adversarial input: worst family each, 64 KB"):
        adversarial = worst_case(64_000)
    with console.status("sanitizer stage on the broker: 50k events on one core, then paced"):
        stream = bench_stream(settings, 50_000)
    with console.status("framework cost: tight loop, plain loop, Quix Streams on 20k events"):
        framework = bench_framework(settings, 20_000)
    with console.status(f"whole pipeline: every stage as a process, {args.e2e_rate}/s for 20 s"):
        e2e = bench_e2e(settings, rate=args.e2e_rate, seconds=20)
    with console.status("privacy accuracy: generated corpus, 31 types, 9 locales"):
        privacy = bench_privacy()
    with console.status("Presidio (optional, .bench-venv): 100 events, two labelled corpora"):
        presidio = bench_presidio()
    with console.status("archiver + verifier: 200k events to a local file store"):
        archive = bench_archive(200_000)
    with console.status("archiver + verifier: 200k events from Kafka to S3 (versitygw, loopback)"):
        archive_s3 = bench_archive_s3(settings, 200_000)
    with console.status("replay: 50k events from Kafka, 200k from a file-store archive"):
        replay_k = bench_replay_kafka(settings, 50_000)
        replay_a = bench_replay_archive(200_000)
    with console.status("trace: lookups in a 1M-event archive (built first)"):
        trace = bench_trace(1_000_000)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    table = Table(title="auditpipe benchmarks (local stack, this machine)")
    for col in ("benchmark", "events/s", "events/s per core", "p50 ms", "p99 ms", "peak RSS MiB"):
        table.add_column(col, justify="right" if col != "benchmark" else "left")
    table.add_row(
        "kafka produce (idempotent, zstd, acks=all)",
        f"{kafka['produce_events_per_s']:,.0f}",
        f"{kafka['produce_events_per_cpu_s']:,.0f}",
        f"{kafka['produce_to_broker_p50_ms']:.1f}",
        f"{kafka['produce_to_broker_p99_ms']:.1f}",
        f"{rss_mib:,.0f}",
    )
    table.add_row(
        f"kafka produce, paced at {args.rate:,} events/s",
        f"{paced['produce_events_per_s']:,.0f}",
        f"{paced['produce_events_per_cpu_s']:,.0f}",
        f"{paced['produce_to_broker_p50_ms']:.1f}",
        f"{paced['produce_to_broker_p99_ms']:.1f}",
        f"{rss_mib:,.0f}",
    )
    table.add_row(
        "SDK emit (validate + scrub + Avro + produce); "
        f"scrubbing costs {sdk['us_per_event_cpu'] - sdk_raw['us_per_event_cpu']:.0f} µs CPU",
        f"{sdk['events_per_s']:,.0f}",
        f"{sdk['events_per_cpu_s']:,.0f}",
        "-",
        "-",
        f"{rss_mib:,.0f}",
    )
    table.add_row(
        "SDK emit with scrub=False (opted out)",
        f"{sdk_raw['events_per_s']:,.0f}",
        f"{sdk_raw['events_per_cpu_s']:,.0f}",
        "-",
        "-",
        f"{rss_mib:,.0f}",
    )
    for row in detect_rows(detect):
        table.add_row(*row)
    for label, key in (
        ("(a) sanitize ceiling: decode, scrub (hyperscan), encode", "ceiling_hyperscan_per_s"),
        ("sanitize ceiling with RE2", "ceiling_re2_per_s"),
        ("sanitize ceiling with Python re", "ceiling_re_per_s"),
        ("(b) offline `auditpipe scrub` path (JSON in/out)", "offline_per_s"),
    ):
        table.add_row(label, f"{scrub[key]:,.0f}", f"{scrub[key]:,.0f}", "-", "-", "-")
    table.add_row(
        f"(c) sanitizer stage on the broker, one core: "
        f"{stream['stage_per_cpu_s'] / scrub['ceiling_per_s']:.0%} of (a), "
        f"{stream['stage_vs_ceiling_pct']:.0f}% of (a) re-run on its core; "
        f"p50/p99 at {stream['paced_rate']:,.0f}/s",
        f"{stream['stage_per_s']:,.0f}",
        f"{stream['stage_per_cpu_s']:,.0f}",
        f"{stream['latency_p50_ms']:.1f}",
        f"{stream['latency_p99_ms']:.1f}",
        "-",
    )
    for row in framework_rows(framework):
        table.add_row(*row)
    if "skipped" in presidio:
        table.add_row(f"Presidio: skipped ({presidio['skipped']})", "-", "-", "-", "-", "-")
    else:
        table.add_row(
            "Presidio + spaCy sm + its country recognizers, same events "
            "(accuracy side by side in the privacy tables)",
            f"{presidio['events_per_s']:,.1f}",
            f"{presidio['events_per_cpu_s']:,.1f}",
            "-",
            "-",
            "-",
        )
    table.add_row(
        "archiver: batch + Merkle + sign + write (file store)",
        f"{archive['archive_events_per_s']:,.0f}",
        f"{archive['archive_events_per_cpu_s']:,.0f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        "verifier (default, no decode)",
        f"{archive['verify_events_per_s']:,.0f}",
        f"{archive['verify_events_per_cpu_s']:,.0f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        f"verifier, {archive['verify_parallel_jobs']:.0f} processes (file store)",
        f"{archive['verify_parallel_events_per_s']:,.0f}",
        "-",
        "-",
        "-",
        "-",
    )
    table.add_row(
        "archiver: Kafka -> S3 Object Lock, loopback (steady; wall incl. group join)",
        f"{archive_s3['archive_s3_steady_events_per_s']:,.0f} "
        f"({archive_s3['archive_s3_events_per_s']:,.0f})",
        f"{archive_s3['archive_s3_events_per_cpu_s']:,.0f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        "verifier (default) reading S3",
        f"{archive_s3['verify_s3_events_per_s']:,.0f}",
        f"{archive_s3['verify_s3_events_per_cpu_s']:,.0f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        "kafka consume",
        f"{kafka['consume_events_per_s']:,.0f}",
        f"{kafka['consume_events_per_cpu_s']:,.0f}",
        "-",
        "-",
        f"{rss_mib:,.0f}",
    )
    table.add_row(*route_row(bench_route(settings)))
    for row in e2e_rows(e2e):
        table.add_row(*row)
    table.add_row(
        "replay from Kafka (seek by time, decode, JSON Lines)",
        f"{replay_k['events_per_s']:,.0f}",
        f"{replay_k['events_per_cpu_s']:,.0f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        "replay from the archive, every batch verified (file store)",
        f"{replay_a['events_per_s']:,.0f}",
        f"{replay_a['events_per_cpu_s']:,.0f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        f"trace lookup, {trace['events']:,.0f}-event archive, one day "
        f"(absent id p50 {trace['absent_p50_ms']:,.0f} ms; max {trace['found_max_ms']:,.0f})",
        "-",
        "-",
        f"{trace['found_p50_ms']:,.0f}",
        "-",
        "-",
    )
    console.print(table)
    worst = Table(title="detectors on adversarial input (64 KB; the costliest family each)")
    for col in ("detector", "worst family", "µs per KB"):
        worst.add_column(col, justify="right" if col == "µs per KB" else "left")
    for name, (family, us_per_kb) in sorted(adversarial.items(), key=lambda kv: -kv[1][1]):
        worst.add_row(name, family, f"{us_per_kb:,.0f}")
    console.print(worst)
    for privacy_table in privacy_tables(privacy):
        console.print(privacy_table)
    if "corpora" in presidio:
        for side_by_side in comparison_tables(presidio["corpora"]):
            console.print(side_by_side)
    console.print(
        "p50/p99: from produce() to the broker's append time (topic uses LogAppendTime), "
        "linger.ms=5, acks=all. The flat-out row measures queueing under saturation; the "
        "paced row is the latency at a steady load. (c): latency from the raw record's "
        "produce time to its output acknowledged and its offset committed."
    )
    console.print(
        "Streaming detector: per core = events per CPU second of the worker process (share of "
        "the offline engine in brackets); p50/p99 from each incident alert's triggering event "
        f"(Kafka timestamp) to the alert's arrival ({detect['loop']['alerts_expected']:.0f} "
        "alerts, paced at 400 events/s)."
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}.json").write_bytes(
        orjson.dumps(
            {
                "kafka": kafka,
                "kafka_paced": paced,
                "scrub": scrub,
                "adversarial_us_per_kb": {k: v[1] for k, v in adversarial.items()},
                "sdk": sdk,
                "sdk_no_scrub": sdk_raw,
                "sanitizer_stage": stream,
                "framework": framework,
                "e2e": e2e,
                "presidio": presidio_json(presidio),
                "privacy": privacy_json(privacy),
                "detect": detect,
                "replay_kafka": replay_k,
                "replay_archive": replay_a,
                "trace": trace,
                "peak_rss_mib": rss_mib,
            },
            option=orjson.OPT_INDENT_2,
        )
    )


if __name__ == "__main__":
    main()
