"""The whole pipeline end to end (issue #18): every stage as an ``auditpipe run <stage>``
subprocess (sanitizer, detector, router, one archiver per region) on topics and consumer groups
of the run's own, fed at a steady rate; `auditpipe run all`'s signed-webhook receiver
(`pipeline.runall.receiver`) in this process.

Two results:

- **throughput**: events produced at ``rate``/s for ``seconds``; the time until every stage has
  committed all of them (sanitizer: the raw topic; detector and both archivers: the events
  topic), and the CPU seconds all worker processes spent meanwhile (``/proc``): events per
  CPU second of the whole pipeline, per stage too;
- **produce → alert → webhook**: one probe a second during the load (an admin role granted to a
  new actor: the ``admin.role_grant`` rule, one alert each), from its produce time to the
  arrival of its notification at the receiver, which checks the signature first. The route
  sends at once (``group_wait: 10ms``): the latency is the pipeline's, not a grouping delay.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from benchmarks.framework import PARTITIONS
from pipeline.events import jsonform, registry
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, schema_files
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topics import pipeline_topics
from pipeline.produce.generator import EventGenerator
from pipeline.runall.devkeys import DevKeys
from pipeline.runall.receiver import Inbox, Receiver, ReceiverServer
from pipeline.runall.supervisor import StageSpec, Supervisor
from pipeline.settings import Settings, TopicsConfig

ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "AUDITPIPE_BENCH_WEBHOOK_SECRET"  # noqa: S105 (the variable's name, not a secret)
ROUTING = """resolve_timeout: 5m
route:
  receiver: bench-hook
  group_by: [rule_id, group.actor.id, group.authz.role]
  group_wait: 10ms
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench-hook
    type: webhook
    url: {url}
    secret_env: {secret_env}
    timeout: 5s
    max_retries: 2
"""
_PROBE = re.compile(rb"bench-admin-(\d+)")
WARM_UP_PROBES = 1_000_000  # their numbers: the load's probes are 1, 2, ...


def _probe_arrivals(inbox: Inbox) -> dict[int, float]:
    """Probe number -> when its first notification arrived (signature verified)."""
    out: dict[int, float] = {}
    for arrival in inbox.arrivals():
        for m in _PROBE.finditer(arrival.raw):
            out.setdefault(int(m.group(1)), arrival.at)
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _committed(conn: KafkaConnection, group: str, topic: str) -> int:
    c = clients.consumer(conn, group, {"enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        c.close()


def _end(conn: KafkaConnection, topic: str) -> int:
    c = clients.consumer(conn, "bench-e2e-watermarks")
    try:
        return sum(
            c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        )
    finally:
        c.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _probe(i: int, actor_run: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "ts": jsonform.format_ts(datetime.now(UTC)),
        "service": "admin-console",
        "environment": "bench",
        "category": "ADMIN",
        "action": "role.grant",
        "outcome": "SUCCESS",
        "actor": {"id": f"bench{actor_run}.{i}@example.com", "type": "user"},
        "target": {"type": "user", "id": f"usr_{i:06d}"},
        "authz": {"decision": "ALLOW", "role": f"bench-admin-{i}"},
        "request_id": str(uuid.uuid4()),
    }


def bench_e2e(settings: Settings, rate: float = 300.0, seconds: float = 20.0) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench.e2e.{run}"
    names = {
        role: f"{prefix}.{role}"
        for role in ("events", "dlq", "alerts", "silences", "router_state", "router_in")
    }
    raw = f"{prefix}.raw.svc"
    scoped = settings.model_copy(
        update={"topics": TopicsConfig(raw_pattern=rf"^{re.escape(prefix)}\.raw\.", **names)}
    )
    work = Path(tempfile.mkdtemp(prefix="auditpipe-e2e-"))
    rules = work / "rules"
    shutil.copytree(ROOT / "rules", rules)
    inbox = Inbox()
    receiver = Receiver(secrets.token_hex(16), work / "deliveries.jsonl", listener=inbox)
    server = ReceiverServer(receiver).start()
    groups = {
        "sanitizer": f"bench-e2e-{run}-sanitizer",
        "detector": f"bench-e2e-{run}-detector",
        "router": f"bench-e2e-{run}-router",
    }
    conn = clients.connection(settings, "bench-e2e")
    created: list[str] = []
    try:
        url = f"http://127.0.0.1:{server.port}/hook"
        (rules / "routing.yaml").write_text(ROUTING.format(url=url, secret_env=SECRET_ENV))
        env = {
            **DevKeys.ensure(work / "keys").env(),
            SECRET_ENV: receiver.secret,
            "AUDITPIPE_RULES_DIR": str(rules),
            "AUDITPIPE_TOPICS__RAW_PATTERN": scoped.topics.raw_pattern,
            "AUDITPIPE_ARCHIVE__BATCH_AGE_S": "2",
            **{f"AUDITPIPE_TOPICS__{k.upper()}": v for k, v in names.items()},
        }
        specs = [*pipeline_topics(scoped), TopicSpec(raw, PARTITIONS)]
        ensure_topics(conn, specs)
        created += [s.name for s in specs]
        for path in schema_files():
            registry.register(registry_client(settings.registry_url), path)
        archivers = {r: f"bench-e2e-{run}-archiver-{r}" for r in settings.s3_regions}
        stages = [
            StageSpec("sanitizer", ("run", "sanitizer", "--group", groups["sanitizer"])),
            StageSpec("detector", ("run", "detector", "--app-id", groups["detector"])),
            StageSpec(
                "router",
                (
                    "run",
                    "router",
                    "--config",
                    str(rules / "routing.yaml"),
                    "--group",
                    groups["router"],
                ),
            ),
            *(
                StageSpec(f"archiver-{r}", ("run", "archiver", "--region", r, "--group", g))
                for r, g in archivers.items()
            ),
        ]
        workers = Supervisor(stages, logs_dir=work / "logs", run_dir=work / "run", env=env)
        for spec in stages:
            workers.start(spec.name)
        try:
            result = _drive(
                conn, settings, scoped, raw, inbox, workers, groups, archivers, rate, seconds
            )
        finally:
            workers.stop_all()
            admin = clients.admin(conn)
            created += [
                n for n in admin.list_topics(timeout=10).topics if n.startswith(groups["detector"])
            ]
            delete_topics(conn, created)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    result["bad_signatures"] = float(receiver.rejected)
    return result


def _drive(
    conn: KafkaConnection,
    settings: Settings,
    scoped: Settings,
    raw: str,
    inbox: Inbox,
    workers: Supervisor,
    groups: dict[str, str],
    archivers: dict[str, str],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    serde = AvroSerde(registry_client(settings.registry_url), AUDIT_EVENT)
    schema = parsed_schema(AUDIT_EVENT)
    producer = clients.producer(conn, {"acks": "all", "linger.ms": 5, "compression.type": "zstd"})
    t = scoped.topics

    def send(doc: dict[str, Any]) -> None:
        value = serde.serialize(jsonform.from_json(schema, doc), raw)
        while True:
            try:
                producer.produce(raw, value, str(doc["actor"]["id"]).encode())
                return
            except BufferError:
                producer.poll(0.05)

    # warm-up: every stage up, a probe delivered end to end (faust's start takes a while)
    sent: dict[int, float] = {}
    deadline = time.monotonic() + 240
    warm = WARM_UP_PROBES
    while not inbox.arrivals():  # one probe every 2 s until one is notified
        workers.check()
        if time.monotonic() > deadline:
            raise RuntimeError("no notification within 240 s of starting the workers")
        send(_probe(warm, "warm"))
        producer.flush(10)
        warm += 1
        time.sleep(2)
    inbox.clear()
    sent.clear()
    start_raw = _end(conn, raw)

    gen = EventGenerator(seed=11).events()
    docs = list(itertools.islice(gen, int(rate * seconds)))
    pids = {n: pid for n in workers.stop_order if (pid := workers.pid(n)) is not None}
    cpu0 = {name: _cpu_s(pid) for name, pid in pids.items()}
    t0 = time.perf_counter()
    probes = 0
    for i, doc in enumerate(docs):
        lag = t0 + i / rate - time.perf_counter()
        if lag > 0:
            time.sleep(lag)
        doc["ts"] = jsonform.format_ts(datetime.now(UTC))
        send(doc)
        if i % int(rate) == 0:  # one probe a second
            probes += 1
            sent[probes] = time.time()
            send(_probe(probes, "load"))
        producer.poll(0)
    producer.flush(60)
    produced = len(docs) + probes
    load_s = time.perf_counter() - t0

    want_raw = start_raw + produced
    deadline = time.monotonic() + 300
    while True:
        workers.check()
        arrived = _probe_arrivals(inbox)
        done_raw = _committed(conn, groups["sanitizer"], raw)
        events_end = _end(conn, t.events)
        done = [_committed(conn, g, t.events) for g in (groups["detector"], *archivers.values())]
        if (
            done_raw >= want_raw
            and all(d >= events_end for d in done)
            and all(i in arrived for i in range(1, probes + 1))
        ):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    total_s = time.perf_counter() - t0
    arrived = _probe_arrivals(inbox)
    cpu = {name: _cpu_s(pid) - cpu0[name] for name, pid in pids.items()}
    cpu_total = sum(cpu.values())
    latencies = [(arrived[i] - sent[i]) * 1000 for i in range(1, probes + 1) if i in arrived]
    return {
        "rate": rate,
        "seconds": load_s,
        "events": float(produced),
        "drained": float(done_raw - start_raw),
        "drain_after_load_s": total_s - load_s,
        "events_per_s": produced / total_s,
        "events_per_cpu_s": produced / max(cpu_total, 1e-9),
        "cpu_s": cpu,
        "probes": float(probes),
        "notified": float(len(latencies)),
        "alert_p50_ms": _percentile(latencies, 0.5),
        "alert_p99_ms": _percentile(latencies, 0.99),
        "alert_max_ms": max(latencies) if latencies else float("nan"),
    }


if __name__ == "__main__":
    import orjson

    from pipeline.settings import load_settings

    print(orjson.dumps(bench_e2e(load_settings()), option=orjson.OPT_INDENT_2).decode())


def e2e_rows(e2e: dict[str, Any]) -> list[tuple[str, ...]]:
    """The end-to-end rows for the table (benchmark, events/s, per core, p50, p99, RSS)."""
    busiest = max(e2e["cpu_s"], key=lambda k: e2e["cpu_s"][k])
    return [
        (
            f"whole pipeline, {len(e2e['cpu_s'])} worker processes, steady "
            f"{e2e['rate']:,.0f}/s for {e2e['seconds']:.0f} s: all committed "
            f"{e2e['drain_after_load_s']:.1f} s after the load; per core = per CPU second of "
            f"all workers ({busiest} {e2e['cpu_s'][busiest] / sum(e2e['cpu_s'].values()):.0%})",
            f"{e2e['events_per_s']:,.0f}",
            f"{e2e['events_per_cpu_s']:,.0f}",
            "-",
            "-",
            "-",
        ),
        (
            f"produce -> alert -> signed webhook, {e2e['notified']:.0f}/{e2e['probes']:.0f} "
            f"probes during that load (max {e2e['alert_max_ms']:,.0f} ms)",
            "-",
            "-",
            f"{e2e['alert_p50_ms']:,.0f}",
            f"{e2e['alert_p99_ms']:,.0f}",
            "-",
        ),
    ]
