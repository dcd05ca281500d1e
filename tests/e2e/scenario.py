"""One e2e run: a private stack, every stage as a worker, N events through the SDK with
seeded personal values, secrets and incidents, faults at seeded random moments, and the books
read afterwards. ``python -m tests.e2e.scenario --events N`` runs it outside pytest (make chaos).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.archive.format.keys import generate
from pipeline.archive.format.s3client import s3_client
from pipeline.demo.incidents import incidents
from pipeline.events import registry
from pipeline.events.dlq import DlqKey
from pipeline.events.jsonform import format_ts
from pipeline.events.schemas import ALERT, DLQ_ENVELOPE, schema_files
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.topics import pipeline_topics
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.produce.generator import EventGenerator, seeded_values
from pipeline.runall.plan import free_ports
from pipeline.runall.receiver import Inbox, Receiver, ReceiverServer
from pipeline.runall.supervisor import StageSpec, Supervisor
from pipeline.settings import Settings, StackConfig
from tests.e2e import books
from tests.e2e.faults import Fault, FaultRunner, plan
from tests.e2e.stack import REGIONS, PrivateStack, until

ROOT = Path(__file__).resolve().parents[2]
RAW_TOPIC = "audit.raw.e2e"
HOOK_SECRET_ENV = "E2E_HOOK_SECRET"
ROUTING = """\
resolve_timeout: 5m
max_alerts_per_notification: 50
route:
  receiver: hook
  group_by: [rule_id, group.actor.id]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 4h
receivers:
  - name: hook
    type: webhook
    url: {url}
    secret_env: {env}
    timeout: 2s
    max_retries: 20
"""


@dataclass(frozen=True)
class RunConfig:
    events: int
    seed: int
    rate: float  # events/s offered by the producer
    rounds: int = 1  # fault plans, one after another (chaos: many)
    faults: bool = True
    drain_timeout_s: float = 600.0
    leak_sample: int = 1  # scan every k-th value of the big topics (1: all)


@dataclass
class Result:
    config: RunConfig
    accepted: int = 0
    produce_s: float = 0.0
    total_s: float = 0.0
    spooled: int = 0
    missing: dict[str, int] = field(default_factory=dict)  # place -> accepted ids not there
    duplicates: dict[str, int] = field(default_factory=dict)  # place -> extra copies
    both: int = 0  # ids in audit.events and in the DLQ
    dlq_reasons: Counter[str] = field(default_factory=Counter)
    undecodable: dict[str, int] = field(default_factory=dict)
    leaks: dict[str, set[str]] = field(default_factory=dict)  # place -> seeded values found
    seeded: int = 0
    incidents_alerted: dict[str, bool] = field(default_factory=dict)
    incidents_notified: dict[str, bool] = field(default_factory=dict)
    bad_signatures: int = 0
    refused_deliveries: int = 0
    verify_rc: int = -1
    verify_out: str = ""
    faults: list[str] = field(default_factory=list)
    fault_errors: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)
    crashes: dict[str, int] = field(default_factory=dict)
    crash_tails: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def report(self) -> str:
        c = self.config
        rate = self.accepted / self.total_s if self.total_s else 0.0
        lines = [
            f"e2e: seed {c.seed} (AUDITPIPE_E2E_SEED), {self.accepted:,} events accepted, "
            f"{self.spooled:,} spooled by the SDK, {c.rounds} fault round(s)",
            f"  produce {self.produce_s:.0f}s, total {self.total_s:.0f}s ({rate:,.0f} events/s "
            f"end to end); " + ", ".join(f"{k} {v:.0f}s" for k, v in self.timings.items()),
            f"  missing: {self.missing}; duplicates: {self.duplicates}; in both events and "
            f"DLQ: {self.both}; undecodable: {self.undecodable}",
            f"  dlq reasons: {dict(self.dlq_reasons)}",
            f"  leaks ({self.seeded} seeded values): "
            + ", ".join(f"{k}: {len(v)}" for k, v in self.leaks.items()),
            f"  incidents alerted: {self.incidents_alerted}; notified: {self.incidents_notified}"
            f"; bad signatures {self.bad_signatures}; refused deliveries "
            f"{self.refused_deliveries}",
            f"  kills {self.kills}; crashes (exits not caused by the test) {self.crashes}",
            f"  verify --compare rc {self.verify_rc}",
            *(f"  fault {f}" for f in self.faults),
            *(f"  fault error {e}" for e in self.fault_errors),
            *(f"  PROBLEM {p}" for p in self.problems),
        ]
        return "\n".join(lines)


def _say(text: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {text}", flush=True)


def _clean_env() -> dict[str, str]:
    """This process's environment without any AUDITPIPE_* variable (they name the shared
    stack), the checkout first on the path (the workers import the same ``pipeline``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITPIPE_")}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)
    return env


def _stages(routing: Path) -> list[StageSpec]:
    """Every stage as an ``auditpipe run`` worker with a health port of its own."""
    router = ("--config", str(routing), "--environment", "e2e", "--breaker-cool-down", "2")
    argv = {
        "sanitizer": ("run", "sanitizer"),
        "detector": ("run", "detector", "--sweep-interval", "2", "--idle-after", "5"),
        "router": ("run", "router", *router, "--retry-base", "0.2"),
        **{f"archiver-{r}": ("run", "archiver", "--region", r) for r in REGIONS},
    }
    ports = free_ports(len(argv))
    return [
        StageSpec(
            name,
            args,
            ready_url=f"http://127.0.0.1:{port}/readyz",
            env={"AUDITPIPE_HEALTH__PORT": str(port)},
        )
        for (name, args), port in zip(argv.items(), ports, strict=True)
    ]


def _metrics(spec: StageSpec) -> str | None:
    """The worker's ``/metrics`` text (None while it does not answer)."""
    url = f"http://127.0.0.1:{spec.env['AUDITPIPE_HEALTH__PORT']}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return str(resp.read().decode(errors="replace"))
    except OSError:
        return None


class Run:
    def __init__(self, cfg: RunConfig, shared: StackConfig, home: Path) -> None:
        self.cfg = cfg
        self.home = home
        self.result = Result(cfg)
        self.stack = PrivateStack(shared, home / "stack")
        self.hmac_key = secrets.token_hex(32)
        self.dlq_key = secrets.token_hex(32)
        self.signing_key, self.public_key = generate(home / "keys")
        self.hook_secret = secrets.token_hex(16)
        self.inbox = Inbox()  # the verified notifications, raw, for the books
        self.receiver = Receiver(
            self.hook_secret, home / "webhook-deliveries.jsonl", listener=self.inbox
        )
        self.hook_server = ReceiverServer(self.receiver).start()
        env = self.stack.env()
        self.settings = Settings(
            bootstrap_servers=env["AUDITPIPE_BOOTSTRAP_SERVERS"],
            schema_registry_url=env["AUDITPIPE_SCHEMA_REGISTRY_URL"],
            s3_endpoints={
                r.name: self.stack.cfg.s3_endpoint(r.name) for r in self.stack.cfg.s3_regions
            },
            s3_access_key_id=env["AUDITPIPE_S3_ACCESS_KEY_ID"],
            s3_secret_access_key=env["AUDITPIPE_S3_SECRET_ACCESS_KEY"],
        )
        self.worker_env = {
            **_clean_env(),
            **env,
            "AUDITPIPE_HMAC_KEY": self.hmac_key,
            "AUDITPIPE_DLQ_KEY": self.dlq_key,
            "AUDITPIPE_ARCHIVE__SIGNING_KEY": str(self.signing_key),
            "AUDITPIPE_ARCHIVE__BATCH_AGE_S": "2",
            "AUDITPIPE_ARCHIVE__BATCH_EVENTS": "5000",
            "AUDITPIPE_ARCHIVE__CHECKPOINT_INTERVAL_S": "5",
            "AUDITPIPE_KAFKA__SESSION_TIMEOUT_MS": "6000",
            "AUDITPIPE_HEALTH__PROBE_INTERVAL_S": "2",
            "AUDITPIPE_LOG_LEVEL": "INFO",
            HOOK_SECRET_ENV: self.hook_secret,
        }
        self.routing = home / "routing.yaml"
        self.workers = Supervisor(
            _stages(self.routing),
            logs_dir=home / "logs",
            run_dir=home / "run",
            env=self.worker_env,
            log_prefix="",
            inherit_env=False,  # not the shared stack's AUDITPIPE_* of this process
            cwd=ROOT,
        )
        self.faults = FaultRunner(self.stack, self.workers, self.receiver)
        self.labels: dict[str, set[str]] = {}
        self._scraping = threading.Event()

    # --- set-up --------------------------------------------------------------------------
    def setup(self) -> None:
        t0 = time.monotonic()
        self.stack.up()
        self.result.timings["stack up"] = time.monotonic() - t0
        self.conn = clients.connection(self.settings, "auditpipe-e2e")
        ensure_topics(self.conn, [*pipeline_topics(self.settings), TopicSpec(RAW_TOPIC, 3)])
        self.client = registry_client(self.settings.registry_url)
        for path in schema_files():
            registry.register(self.client, path)
        url = f"http://127.0.0.1:{self.hook_server.port}/hook"
        self.routing.write_text(ROUTING.format(url=url, env=HOOK_SECRET_ENV))
        w = self.workers
        t0 = time.monotonic()
        for name in w.names:
            w.start(name)
        w.wait_all_ready(240)
        w.watch(restart_delay_s=1.0)  # a worker that exits on its own: booked and restarted
        self.result.timings["workers ready"] = time.monotonic() - t0
        threading.Thread(target=self._scrape_loop, name="scrape", daemon=True).start()

    def _scrape_loop(self) -> None:
        while not self._scraping.wait(5.0):
            self._scrape()

    def _scrape(self) -> None:
        for name, spec in self.workers.specs.items():
            text = _metrics(spec)
            if text:
                self.labels.setdefault(name, set()).update(books.metric_labels(text))

    # --- the run -------------------------------------------------------------------------
    def produce(self) -> tuple[list[str], set[str], dict[str, set[str]]]:
        """Emit the events at the configured rate; (accepted ids, seeded values, incident
        name -> its event ids)."""
        cfg = self.cfg
        rng = random.Random(cfg.seed)
        # event time is the wall clock at emit, as with real services: the detector's lateness
        # (300 s) then means what it says even when the SDK spool re-sends events a minute late
        gen = EventGenerator(seed=cfg.seed, start=datetime.now(UTC))
        planted = {}
        for n in range(4):  # each incident set at a random point of the stream
            planted[rng.randrange(max(1, cfg.events))] = f"set{n}"
        config = ProducerConfig(
            kafka=self.conn,
            registry_url=self.settings.registry_url,
            service="e2e",
            environment="e2e",
            topic=RAW_TOPIC,
            spool_dir=self.home / "spool",
            scrub=False,  # the plaintext must reach the sanitizer: that is what is tested
        )
        accepted: list[str] = []
        seeded: set[str] = set()
        incident_ids: dict[str, set[str]] = {}
        t0 = time.monotonic()
        with AuditProducer(config) as producer:
            for i, doc in enumerate(itertools.islice(gen.events(), cfg.events)):
                doc["ts"] = format_ts(datetime.now(UTC))
                docs = [doc]
                if i in planted:
                    docs += self._incident_docs(planted[i], doc, incident_ids)
                for d in docs:
                    seeded |= seeded_values(d)
                    accepted.append(producer.emit_event(d))
                if i % 500 == 0:
                    ahead = t0 + i / cfg.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            said = 0.0
            while True:  # the spool empties once the broker takes records again
                left = producer.flush(30)
                stats = producer.stats()
                if left == 0 and stats.spool_pending == 0:
                    break
                if time.monotonic() > said + 10:
                    _say(f"producer: {left} in flight, {stats.spool_pending} spooled; waiting")
                    said = time.monotonic()
                time.sleep(0.5)
            self.result.spooled = producer.stats().spooled
        self.result.produce_s = time.monotonic() - t0
        return accepted, seeded, incident_ids

    @staticmethod
    def _incident_docs(
        tag: str, at: dict[str, Any], out: dict[str, set[str]]
    ) -> list[dict[str, Any]]:
        """The demo's incidents (spread over 100 s of event time, ending at the event time of
        ``at``); their event ids by incident (actor)."""
        end = datetime.fromisoformat(at["ts"].replace("Z", "+00:00"))
        docs = incidents(f"mallory-{tag}-{uuid.uuid4().hex[:4]}", end - timedelta(seconds=100))
        for d in docs:
            d["environment"] = "e2e"
            kind = d["actor"]["id"].split("@")[0].rsplit(".", 1)[1]
            out.setdefault(f"{tag}/{kind}", set()).add(d["event_id"])
        return docs

    def execute(self) -> Result:
        r = self.result
        t_start = time.monotonic()
        self.setup()
        rng = random.Random(self.cfg.seed)
        window = max(30.0, self.cfg.events / self.cfg.rate)
        names = self.workers.names
        plans: list[list[Fault]] = []
        if self.cfg.faults:
            per_round = window / self.cfg.rounds
            plans = [plan(rng, names, list(REGIONS), per_round) for _ in range(self.cfg.rounds)]
            for f in itertools.chain.from_iterable(plans):
                _say(f"planned fault {f.describe()}")
            self.faults.start(plans)
        accepted, seeded, incident_ids = self.produce()
        r.accepted, r.seeded = len(accepted), len(seeded)
        _say(f"produced {len(accepted):,} in {r.produce_s:.0f}s; waiting for the faults")
        self.faults.join()
        r.faults = [
            f"{f.describe()} -> recovered in {rec:.1f}s" for f, _, rec in self.faults.log.done
        ]
        r.fault_errors = list(self.faults.log.errors)
        t0 = time.monotonic()
        self._books(set(accepted), seeded, incident_ids)
        r.timings["books"] = time.monotonic() - t0
        r.total_s = time.monotonic() - t_start
        return r

    # --- the books -----------------------------------------------------------------------
    def _books(
        self, accepted: set[str], seeded: set[str], incident_ids: dict[str, set[str]]
    ) -> None:
        r, t, cfg = self.result, self.settings.topics, self.cfg
        event_serde = AvroSerde(self.client)
        dlq_serde = AvroSerde(self.client, DLQ_ENVELOPE)
        dlq_key = DlqKey("dlq-k1", bytes.fromhex(self.dlq_key))

        # 1. every accepted event in audit.events or the DLQ
        t0 = time.monotonic()
        deadline = t0 + cfg.drain_timeout_s
        events = books.Tally()
        dlq, r.dlq_reasons = books.Tally(), Counter[str]()
        events_in, dlq_in = books.Follower(self.conn, t.events), books.Follower(self.conn, t.dlq)
        try:
            while True:
                books.tally_events(events_in.read(), event_serde, t.events, into=events)
                books.tally_dlq(
                    dlq_in.read(), dlq_serde, event_serde, dlq_key, into=(dlq, r.dlq_reasons)
                )
                gone = accepted - events.ids.keys() - dlq.ids.keys()
                _say(f"accounting: {len(accepted) - len(gone):,}/{len(accepted):,} arrived")
                if not gone or time.monotonic() > deadline:
                    break
                time.sleep(3)
        finally:
            events_in.close()
            dlq_in.close()
        r.timings["drain"] = time.monotonic() - t0
        r.missing["events+dlq"] = len(gone)
        r.duplicates["events"] = events.duplicates
        r.duplicates["dlq"] = dlq.duplicates
        r.both = len(events.ids.keys() & dlq.ids.keys() & accepted)
        r.undecodable = {"events": events.undecodable, "dlq": dlq.undecodable}
        # where duplicates come from: copies already on the raw topic are the SDK's re-sends
        # (a spooled record the broker had in fact taken); the rest are the stages' re-deliveries
        raw = books.tally_events(books.read_topic(self.conn, RAW_TOPIC), event_serde, RAW_TOPIC)
        r.duplicates["raw (SDK re-sends)"] = raw.duplicates

        # 2. the incidents' alerts and their notifications
        alert_serde = AvroSerde(self.client, ALERT)
        t0 = time.monotonic()

        def alerted() -> dict[str, bool]:
            samples: set[str] = set()
            for v in books.read_topic(self.conn, t.alerts, idle_s=1.0):
                samples.update(alert_serde.deserialize(v, t.alerts).get("sample_event_ids") or [])
            return {name: bool(ids & samples) for name, ids in incident_ids.items()}

        def notified() -> dict[str, bool]:
            samples: set[str] = set()
            for a in self.inbox.alerts():
                samples.update(a.get("sample_event_ids") or [])
            return {name: bool(ids & samples) for name, ids in incident_ids.items()}

        until(lambda: all(alerted().values()) and all(notified().values()), 240, 2.0)
        r.incidents_alerted, r.incidents_notified = alerted(), notified()
        r.timings["alerts"] = time.monotonic() - t0
        # unsigned or forged: answered 401, never recorded; refused: answered the fault's 503
        r.bad_signatures, r.refused_deliveries = self.receiver.rejected, self.receiver.refused

        # 3. both archives: wait until they cover audit.events, then read every object
        t0 = time.monotonic()
        ends = books.end_offsets(self.conn, t.events)
        scanner = books.LeakScanner(seeded)
        r.leaks["archive objects"] = set()
        for region in REGIONS:
            s3 = s3_client(self.settings, region)
            bucket = self.settings.archive.bucket(region)

            def done(s3: Any = s3, bucket: str = bucket) -> bool:
                cov = books.covered(books.archive_batches(s3, bucket), t.events)
                return all(cov.get(p, 0) >= end for p, end in ends.items())

            if not until(done, cfg.drain_timeout_s, 2.0):
                r.problems.append(f"archive {region} does not cover audit.events {ends}")
            keys = books.archive_batches(s3, bucket)
            tally, found = books.tally_archive(s3, bucket, keys, t.events, scanner)
            r.leaks["archive objects"] |= found
            r.missing[f"archive {region}"] = len(accepted - tally.ids.keys() - dlq.ids.keys())
            r.duplicates[f"archive {region}"] = tally.duplicates
        r.timings["archive"] = time.monotonic() - t0

        # 4. stop the workers (their logs end), scrape the metrics one last time
        self._scrape()
        self._scraping.set()
        self.workers.stop_all()
        r.kills = dict(self.workers.book.kills)
        r.crashes = dict(self.workers.book.crashes)
        r.crash_tails = list(self.workers.book.crash_tails)

        # 5. leaks: downstream topics, archive objects, notifications, logs, metric labels
        t0 = time.monotonic()
        admin = clients.admin(self.conn)
        topics = sorted(admin.list_topics(timeout=10).topics)
        downstream = [n for n in topics if not n.startswith(("audit.raw.", "_")) and n != t.dlq]
        k = cfg.leak_sample
        for name in downstream:
            values = itertools.islice(books.read_topic(self.conn, name), 0, None, k)
            r.leaks[f"topic {name}"] = scanner.scan(values)
        r.leaks["notifications"] = scanner.scan(self.inbox.raw_bodies())
        r.leaks["worker logs"] = scanner.scan(
            self.workers.log_file(n).read_bytes() for n in self.workers.names
        )
        r.leaks["metric labels"] = scanner.scan("\n".join(v).encode() for v in self.labels.values())
        if not self.labels:
            r.problems.append("no metrics scraped from any worker")
        r.timings["leak scan"] = time.monotonic() - t0

        # 6. verify --compare, offline, from the public key
        t0 = time.monotonic()
        b = self.settings.archive.bucket
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline.cli.main", "verify",
             "--source", f"s3://{b(REGIONS[0])}", "--compare", f"s3://{b(REGIONS[1])}",
             "--public-key", str(self.public_key), "--max-age", "off"],
            cwd=ROOT, env=self.worker_env, capture_output=True, text=True, timeout=900,
            check=False,
        )  # fmt: skip
        r.verify_rc, r.verify_out = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
        r.timings["verify"] = time.monotonic() - t0

    def close(self) -> None:
        self._scraping.set()
        self.faults.stop()
        self.faults.join(120)
        self.workers.stop_all(20)
        self.hook_server.close()
        self.stack.down()


def config_from_env(default_events: int) -> RunConfig:
    seed_text = os.environ.get("AUDITPIPE_E2E_SEED")
    seed = int(seed_text) if seed_text else random.SystemRandom().randrange(1 << 31)
    events = int(os.environ.get("AUDITPIPE_E2E_EVENTS", str(default_events)))
    rate = float(os.environ.get("AUDITPIPE_E2E_RATE", "400"))
    return RunConfig(events=events, seed=seed, rate=rate)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="auditpipe e2e/chaos run on a private stack")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rate", type=float, default=1500.0, help="events/s offered")
    p.add_argument(
        "--rounds", type=int, default=0, help="fault rounds (0: one per 150 s of producing)"
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the run directory")
    p.add_argument("--leak-sample", type=int, default=1)
    a = p.parse_args(argv)
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 31)
    # a round (every fault once, one at a time) takes about two minutes with the restarts
    rounds = a.rounds or max(1, int(a.events / a.rate / 150))
    cfg = RunConfig(
        events=a.events, seed=seed, rate=a.rate, rounds=rounds, leak_sample=a.leak_sample,
        drain_timeout_s=1800.0,
    )  # fmt: skip
    shared = Settings().stack
    why = PrivateStack.available(shared)
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="auditpipe-chaos-"))
    _say(f"seed {seed}; {cfg.events:,} events at {cfg.rate:,.0f}/s; {rounds} fault rounds; {home}")
    run = Run(cfg, shared, home)
    try:
        result = run.execute()
    finally:
        run.close()
    print(result.report(), flush=True)
    ok = verdict(result) == []
    if ok and not a.keep:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"run directory kept: {home}")
    return 0 if ok else 1


def verdict(r: Result) -> list[str]:
    """What is wrong with a run (empty: it passed)."""
    out = [*r.problems, *r.fault_errors]
    out += [f"{n} accepted events missing from {k}" for k, n in r.missing.items() if n]
    out += [f"seeded values in {k}: {sorted(v)[:5]}" for k, v in r.leaks.items() if v]
    out += [f"incident {k} raised no alert" for k, v in r.incidents_alerted.items() if not v]
    out += [f"incident {k}: no notification" for k, v in r.incidents_notified.items() if not v]
    if r.bad_signatures:
        out.append(f"{r.bad_signatures} webhook deliveries with a bad signature")
    if r.verify_rc != 0:
        out.append(f"verify --compare exited {r.verify_rc}:\n{r.verify_out}")
    # a stage exits only when it is told to: any other exit is a crash, faults or not
    out += [f"worker crashed: {t}" for t in r.crash_tails]
    if any(r.undecodable.values()):
        out.append(f"undecodable records {r.undecodable}")
    return out


if __name__ == "__main__":
    sys.exit(main())
