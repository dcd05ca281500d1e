"""One run of the whole pipeline on the local stack: what `auditpipe run all` and the demo share.

:class:`RunAll` builds the :class:`~pipeline.runall.plan.Plan` and its
:class:`~pipeline.runall.supervisor.Supervisor` from the settings and the routing file,
creates the topics and registers the schemas, starts the stages in order and waits until each
is ready, restarts a stage that died (``run all``), stops them in order, and says how to look
around afterwards.
"""

from __future__ import annotations

import shlex
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from confluent_kafka import TopicPartition

from pipeline.errors import PipelineError
from pipeline.events import registry
from pipeline.events.schemas import AUDIT_EVENT, schema_files
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topics import pipeline_topics, spec_for, table_for
from pipeline.route.config import load_routing
from pipeline.runall import plan as P
from pipeline.runall.devkeys import DevKeys
from pipeline.runall.receiver import Delivery, read_deliveries
from pipeline.runall.supervisor import Supervisor
from pipeline.settings import Settings

Report = Callable[[str], None]
DEFAULT_ROUTING = Path("deploy/demo/routing.yaml")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _quiet(_: str) -> None:
    return None


def interrupt(signum: int, frame: FrameType | None) -> None:
    """A handler for SIGTERM (and SIGINT) that stops like Ctrl-C: KeyboardInterrupt."""
    raise KeyboardInterrupt


@dataclass(frozen=True)
class RunAllOptions:
    routing: Path = DEFAULT_ROUTING
    producer: bool = False
    rate: float = 50.0
    events: int = 0
    raw_topic: str = "audit.raw.demo"
    incident_every: float = 60.0
    health_port_base: int = 0  # 0: free ports chosen at start
    ready_timeout_s: float = 240.0
    deliveries: Path | None = None  # default: <stack home>/demo/webhook-deliveries.jsonl
    dev_keys_override: bool = False  # the demo: its own keys even when the settings name some
    extra_args: dict[str, tuple[str, ...]] = field(default_factory=dict)  # see Plan.extra_args
    instance: str = "run-all"  # pid files under <stack home>/run/<instance>/
    log_prefix: str = "run-"  # logs: <stack home>/logs/<log_prefix><stage>.log


@dataclass
class Restarts:
    """Crash restarts of ``run all``: at most ``limit`` per stage."""

    limit: int = 5
    counts: dict[str, int] = field(default_factory=dict)

    def allow(self, name: str) -> bool:
        self.counts[name] = self.counts.get(name, 0) + 1
        return self.counts[name] <= self.limit


class RunAll:
    def __init__(self, settings: Settings, options: RunAllOptions) -> None:
        self.settings = settings
        self.options = options
        self.keys = DevKeys.ensure(settings.stack.root / "demo")
        config = load_routing(options.routing)
        hooks = P.local_webhooks(config)
        host, port = P.receiver_address(hooks, options.routing)
        regions = tuple(settings.s3_regions)
        workers = P.Plan.workers(regions)
        base = options.health_port_base
        ports = [base + i for i in range(len(workers))] if base else P.free_ports(len(workers))
        self.plan = P.Plan(
            routing=options.routing,
            regions=regions,
            receiver_host=host,
            receiver_port=port,
            secret_file=self.keys.webhook_secret_file,
            deliveries=options.deliveries
            or settings.stack.root / "demo" / "webhook-deliveries.jsonl",
            health_ports=dict(zip(workers, ports, strict=True)),
            producer=options.producer,
            rate=options.rate,
            events=options.events,
            raw_topic=options.raw_topic,
            incident_every=options.incident_every,
            extra_args=dict(options.extra_args),
        )
        env = self.keys.env(None if options.dev_keys_override else settings)
        env.update({h.secret_env: self.keys.webhook_secret for h in hooks})
        env.setdefault("AUDITPIPE_HEALTH__PROBE_INTERVAL_S", "2")
        self.supervisor = Supervisor(
            self.plan.stages(),
            logs_dir=settings.stack.logs_dir,
            run_dir=settings.stack.run_dir / options.instance,
            env=env,
            stop_order=self.plan.stop_order(),
            log_prefix=options.log_prefix,
        )
        self.restarts = Restarts()

    # --- life cycle -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Topics (the pipeline's and the raw demo topic) and the schemas."""
        conn = clients.connection(self.settings, "auditpipe-run-all")
        table = table_for(self.settings)  # read once for both
        raw = spec_for(self.settings, self.options.raw_topic, table=table)
        ensure_topics(conn, [*pipeline_topics(self.settings, table), raw])
        client = registry_client(self.settings.registry_url)
        for path in schema_files():
            registry.register(client, path)

    def start(self, report: Report = _quiet) -> None:
        """Start every stage in order; return once each is ready (StackError otherwise: the
        stages already started are left to :meth:`stop`)."""
        sup, deadline = self.supervisor, time.monotonic() + self.options.ready_timeout_s
        sup.start(P.RECEIVER)
        sup.wait_ready(P.RECEIVER, self.options.ready_timeout_s)
        report(f"webhook receiver ready at {self.plan.receiver_url}")
        workers = P.Plan.workers(self.plan.regions)
        for name in workers:
            sup.start(name)
        report(f"started {', '.join(workers)}")
        for name in workers:
            sup.wait_ready(name, max(1.0, deadline - time.monotonic()))
            report(f"{name} ready")
        if self.plan.producer:
            sup.start(P.PRODUCER)
            report("demo producer started")

    def watch(self, report: Report = _quiet) -> None:
        """One look: a stage that died is reported and restarted (a producer that finished
        its events is left alone)."""
        for name in self.supervisor.dead():
            code = self.supervisor.exit_code(name)
            if name == P.PRODUCER and code == 0:
                report("demo producer finished its events")
                self.supervisor.stop(name)  # forget it: not a crash
                continue
            if self.restarts.allow(name):
                report(f"{name} exited (code {code}); restarting (log: {self._log(name)})")
                self.supervisor.start(name)
            else:
                report(f"{name} keeps exiting; left down (log: {self._log(name)})")
                self.supervisor.stop(name)

    def stop(self, report: Report = _quiet) -> list[str]:
        """Stop every running stage in the stop order; the names stopped. A second Ctrl-C or
        SIGTERM meanwhile is ignored (in the main thread), so the ordered stop runs to its end."""
        main = threading.current_thread() is threading.main_thread()
        saved = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in STOP_SIGNALS] if main else []
        try:
            stopped = []
            for name in self.supervisor.stop_order:
                if self.supervisor.stop(name):
                    stopped.append(name)
                    report(f"stopped {name}")
            return stopped
        finally:
            for sig, handler in saved:
                signal.signal(sig, handler)

    # --- what happened ----------------------------------------------------------------------
    def deliveries(self) -> list[Delivery]:
        return read_deliveries(self.plan.deliveries)

    def _log(self, name: str) -> Path:
        return self.supervisor.log_file(name)

    def status_rows(self) -> list[tuple[str, str, str, str]]:
        """(stage, pid, endpoint, log) per stage."""
        rows = []
        for st in self.supervisor.status():
            url = (
                self.plan.receiver_url + "/healthz"
                if st.name == P.RECEIVER
                else self.plan.health_url(st.name) or "-"
            )
            rows.append((st.name, str(st.pid or "down"), url, str(st.log)))
        return rows

    def keyring(self) -> Path:
        signing = self.settings.archive.signing_key
        if signing is not None and not self.options.dev_keys_override:
            return signing.parent
        return self.keys.signing_key.parent

    def look_around(self, trace_id: str | None = None) -> list[tuple[str, str]]:
        """(what, command line) pairs that work against what this run left behind."""
        t = self.settings.topics
        buckets = [f"s3://{self.settings.archive.bucket(r)}" for r in self.plan.regions]
        verify = ["auditpipe", "verify", "--source", buckets[0]]
        if len(buckets) > 1:
            verify += ["--compare", buckets[1]]
        verify += ["--keyring", str(self.keyring())]
        out = [
            ("the scrubbed events", ["auditpipe", "consume", "-t", t.events, "--max", "5"]),
            ("the alerts", ["auditpipe", "consume", "-t", t.alerts, "--max", "5"]),
            (
                "the last 15 minutes, failures only",
                [
                    "auditpipe",
                    "replay",
                    "kafka",
                    "--topic",
                    t.events,
                    "--from",
                    "-15m",
                    "--filter",
                    "outcome!=SUCCESS",
                    "--out",
                    "window.jsonl",
                ],
            ),
            (
                "one request across services",
                ["auditpipe", "trace", trace_id or "<trace_id>", "--from", "-1h"],
            ),
            ("the archive of both regions", verify),
            ("the notifications received", ["tail", "-n", "3", str(self.plan.deliveries)]),
        ]
        return [(what, shlex.join(argv)) for what, argv in out]

    def recent_trace_id(self, timeout_s: float = 10.0) -> str | None:
        """The ``trace_id`` of a recent event on the events topic (for the `trace` hint)."""
        try:
            return _recent_trace_id(self.settings, timeout_s)
        except (PipelineError, OSError, KeyError, ValueError):
            return None


def _recent_trace_id(settings: Settings, timeout_s: float) -> str | None:
    conn = clients.connection(settings, "auditpipe-run-all")
    topic = settings.topics.events
    consumer = clients.consumer(
        conn, f"auditpipe-run-all-{uuid.uuid4().hex[:8]}", {"enable.auto.commit": False}
    )
    try:
        md = consumer.list_topics(topic, timeout=timeout_s)
        start = []
        for p in md.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            if high > low:
                start.append(TopicPartition(topic, p, max(low, high - 20)))
        if not start:
            return None
        consumer.assign(start)
        serde = AvroSerde(registry_client(settings.registry_url), AUDIT_EVENT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for msg in consumer.consume(50, 0.5):
                value = msg.value()
                if msg.error() is None and value is not None:
                    trace = serde.deserialize(value, topic).get("trace_id")
                    if trace:
                        return str(trace)
        return None
    finally:
        consumer.close()
