"""The streaming detector on the project's own commit-after-ack loop (confluent-kafka), with its
state in a compacted changelog topic restored on assignment (the router's pattern).

Why this and not faust-streaming: measured side by side in ``make bench`` (benchmarks/detect.py;
benchmarks/RESULTS.md, "Detector at stream speed (#17)"), on the same events and all shipped
rules, in one run, as events per CPU-second of the worker process (its threads included), each
worker saturated from a filled topic:

==========================================================  ===============  ==========
design                                                       events/s/core    of offline
==========================================================  ===============  ==========
offline engine (the ceiling, same run)                       45.2k            100 %
(b) this loop, state in a compacted changelog                24.7k            55 %
(a) faust tuned: ``take_events``, decode once, coalesced     9.3k             21 %
faust as it was (per-event awaits, JSON round trip)          4.1k (earlier)   6 %
==========================================================  ===============  ==========

Those runs were on a loaded machine (load average 10 to 18); a quiet-machine ``make bench``
(load about 1) gave offline 56.9k, (b) 35.3k (62 %), (a) 15.2k (27 %).
(Quix Streams, option (c), was not measured: see RESULTS.md.) Tuned faust stays at a fifth of
the engine: its consumer path (aiokafka's fetcher and record parsing in Python, the stream's
per-event hand-over between asyncio tasks, acking) costs more CPU per event than the engine, and
the short fetch wait and loss-free recovery the old stage needed were reachable only through
private members. Here librdkafka fetches in C and one thread runs the loop; what is left per
event is the Avro decode (about as costly as the engine) and the engine:

1. consume a batch (whatever is fetched, up to ``batch_size``; wait at most ``poll_s`` for
   the first record, so an event is evaluated within one loop);
2. per record: decode the Avro once (the datum goes to the engine as it is, its
   ``timestamp-micros`` read as the event time) and run the engine of its slot (lane and
   partition); forward the events lanes need (``partitioning``) and produce alerts at once
   (the producer lingers ``linger_ms``): alert latency is not tied to checkpoints;
3. every ``checkpoint_s`` (and before partitions are revoked, and on shutdown) a
   **checkpoint**, in this order: flush the producer (alerts and forwards acknowledged), write
   each slot's changed state (one record per changed key: the writes of a key coalesce) and
   then its progress (watermark, counters, next input offset), flush again, and only then
   commit the input offsets. A kill -9 re-reads from the last commit: the restored state skips
   input it already holds (its progress offset), alerts may be re-sent with the same
   deterministic ``alert_id``/``dedup_key`` (the router de-duplicates), nothing is lost.
4. on assignment, each slot's state and progress is read from its changelog partition
   (``changelog.restore``) before its first record is evaluated.

A timer (``sweep_interval_s``) expires state and emits final updates of closed incidents; a
slot without events for ``idle_after_s`` has its watermark advanced with wall time (``Clocks``).
Lanes (rules grouped by other keys than ``actor.id``) are internal topics
``<app id>-by-<group-by>`` with as many partitions as ``audit.events``; forwarded events are
acknowledged before the checkpoint commits the input that produced them.

Known windows: a crash in the middle of a checkpoint's state writes leaves some keys of a slot
newer than its progress record; the replayed events then count twice for those keys. Event ids
are de-duplicated in memory only (``Engine``), so copies forwarded again to a lane after a
crash are not recognised once the worker restarted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from prometheus_client import CollectorRegistry, Counter

from pipeline.detect import partitioning
from pipeline.detect.changelog import (
    PROGRESS,
    Progress,
    Slot,
    SlotStore,
    changelog_topic,
    record_key,
    restore,
)
from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import SEP, US, Engine
from pipeline.detect.fields import as_text, getter
from pipeline.detect.loader import load_rules
from pipeline.detect.matcher import Predicate
from pipeline.detect.model import RuleSet
from pipeline.detect.partitioning import GroupBy
from pipeline.errors import RegistryUnavailableError, RetryableError
from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.startup import Stopped, retry_until_stopped
from pipeline.settings import Settings

log = logging.getLogger(__name__)


PARTITION_KEY = "actor.id"  # audit.events is keyed by the actor's pseudonym
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class LoopOptions:
    app_id: str = "auditpipe-detector"
    batch_size: int = 1000
    poll_s: float = 0.05
    checkpoint_s: float = 1.0
    linger_ms: int = 5


class DetectorMetrics:
    """The detector's counters (Prometheus), one registry per worker."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry or CollectorRegistry()
        self.events = Counter("auditpipe_detector_events", "events evaluated", registry=reg)
        self.duplicates = Counter(
            "auditpipe_detector_duplicates",
            "events skipped: their event_id was seen within the allowed lateness",
            registry=reg,
        )
        self.late = Counter(
            "auditpipe_detector_late",
            "events skipped: later than the allowed lateness",
            registry=reg,
        )
        self.alerts = Counter("auditpipe_detector_alerts", "alerts and updates sent", registry=reg)


class Clocks:
    """Per slot: wall time and watermark at its last event, to advance idle slots."""

    def __init__(self, idle_after_s: float) -> None:
        self.idle_after_s = idle_after_s
        self._last: dict[Slot, tuple[float, int]] = {}

    def saw(self, slot: Slot, engine: Engine, now: float) -> None:
        self._last[slot] = (now, engine.watermark)

    def target(self, slot: Slot, engine: Engine, now: float) -> int:
        """The watermark the slot should have at ``now`` (monotonic seconds)."""
        wall, mark = self._last.get(slot, (now, engine.watermark))
        idle = now - wall
        return mark + int(idle * US) if idle >= self.idle_after_s else engine.watermark

    def forget(self, slot: Slot) -> None:
        self._last.pop(slot, None)


@dataclass
class Lane:
    """One input: ``audit.events`` (rules grouped by the actor, lane ``""``), or an internal
    topic bringing together by their group key the events of rules grouped otherwise."""

    name: str
    topic: str
    rules: RuleSet
    forwards: list[tuple[GroupBy, str, list[Predicate], list[Callable[[Any], Any]]]] = field(
        default_factory=list
    )


@dataclass
class SlotRun:
    """A slot's engine, the next input offset to commit, and below which offset its restored
    state already holds the input (``skip_below``)."""

    engine: Engine
    store: SlotStore
    next_offset: int | None = None
    skip_below: int = -1
    saved: dict[str, Any] = field(default_factory=dict)  # the progress last written


def event_time(datum: dict[str, Any]) -> int:
    """Microseconds since the epoch of a decoded event's ``ts`` (a datetime from fastavro)."""
    ts = datum["ts"]
    if isinstance(ts, datetime):
        return (ts - _EPOCH) // _ONE_US
    return int(ts)


def sweep(engines: dict[Slot, Engine], clocks: Clocks, now: float) -> list[dict[str, Any]]:
    """Expire state of every slot (idle ones advanced with the wall clock); the final updates."""
    alerts: list[dict[str, Any]] = []
    for slot, engine in engines.items():
        alerts.extend(engine.advance(clocks.target(slot, engine, now)))
    return alerts


class DetectorLoop:
    def __init__(
        self,
        settings: Settings,
        *,
        rules_dir: Path | None = None,
        config: EngineConfig | None = None,
        options: LoopOptions | None = None,
        metrics: DetectorMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.options = opts = options or LoopOptions()
        self.config = config or EngineConfig()
        self.metrics = metrics or DetectorMetrics()
        self.rules = load_rules(rules_dir or settings.rules_dir / "detection")
        t = settings.topics
        self.conn = clients.connection(settings, opts.app_id)
        self.changelog = changelog_topic(opts.app_id)
        local, remote = partitioning.split(self.rules, PARTITION_KEY)
        events = Lane("", t.events, local)
        self.lanes: dict[str, Lane] = {t.events: events}
        for group_by, subset in remote.items():
            name = partitioning.slug(group_by)
            topic = f"{opts.app_id}-by-{name}"
            self.lanes[topic] = Lane(name, topic, subset)
            predicates = [d.predicate for d in subset.detections]
            events.forwards.append((group_by, topic, predicates, [getter(f) for f in group_by]))
            log.info(
                "rules repartitioned by their group key",
                extra={"group_by": ",".join(group_by) or "-", "rules": len(subset.all_rules())},
            )
        self.slots: dict[Slot, SlotRun] = {}
        self.clocks = Clocks(self.config.idle_after_s)
        self._stop = threading.Event()
        self._failed: list[str] = []
        client = registry_client(settings.registry_url)
        self.events_serde = AvroSerde(client, AUDIT_EVENT)
        self.alerts_serde = AvroSerde(client, ALERT)
        self.alert_schema = parsed_schema(ALERT)
        self._duplicates_logged = 0
        self.consumer: Consumer | None = None
        self.producer = clients.producer(
            self.conn,
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": opts.linger_ms,
                "compression.type": "lz4",
            },
            logger=clients.LIBRDKAFKA_LOGGER,
        )

    # --- set-up -------------------------------------------------------------------------------

    def topics(self) -> list[TopicSpec]:
        """The lanes' topics and the changelog (compacted), as many partitions as the input.
        They exist before the consumer subscribes: a topic created during the first
        assignment would get no partitions until the next metadata refresh."""
        t = self.settings.topics
        specs = [
            TopicSpec(name, t.partitions, t.replication_factor)
            for name, lane in self.lanes.items()
            if lane.name
        ]
        compact = {"cleanup.policy": "compact"}
        return [*specs, TopicSpec(self.changelog, t.partitions, t.replication_factor, compact)]

    def stop(self) -> None:
        self._stop.set()

    def _decode(
        self, serde: AvroSerde, value: bytes, topic: str, partition: int, offset: int
    ) -> dict[str, Any]:
        """The event, waiting (with backoff) while the schema registry does not answer: the
        event is fine, so skipping it would lose its detections (found by the e2e chaos run,
        where events read right after a restart during a registry outage were skipped). A stop
        meanwhile leaves without a checkpoint: the input is re-read from the last one."""
        return retry_until_stopped(
            lambda: serde.deserialize(value, topic, partition=partition, offset=offset),
            (RegistryUnavailableError,),
            self._stop,
            what="schema registry",
        )

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        ensure_topics(self.conn, self.topics())
        opts = self.options
        consumer = self.consumer = clients.consumer(
            self.conn,
            opts.app_id,
            {
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 50,
            },
            logger=clients.LIBRDKAFKA_LOGGER,
        )
        consumer.subscribe(list(self.lanes), on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("detector started", extra={"topics": ",".join(self.lanes)})
        next_checkpoint = next_sweep = time.monotonic()
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(opts.batch_size, opts.poll_s)
                if msgs:
                    self.process(msgs)
                self.producer.poll(0)
                now = time.monotonic()
                if now >= next_sweep:
                    self.sweep(now)
                    next_sweep = now + self.config.sweep_interval_s
                if now >= next_checkpoint:
                    self.checkpoint()
                    next_checkpoint = now + opts.checkpoint_s
            self.checkpoint()
        except Stopped:
            log.info("detector stopped while waiting for the schema registry; nothing checkpointed")
        finally:
            consumer.close()
            self.producer.flush(10)
            log.info("detector stopped")

    def process(self, msgs: list[Message]) -> None:
        lanes, slots, serde = self.lanes, self.slots, self.events_serde
        touched: set[Slot] = set()
        evaluated = late = dup = 0
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error", extra={"error": err.str()})
                continue
            topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
            lane = lanes[topic]
            slot = (lane.name, partition)
            run = slots.get(slot)
            if run is None:  # revoked meanwhile: the new owner consumes it
                continue
            run.next_offset = offset + 1
            if offset < run.skip_below:
                continue  # the restored state already holds it
            engine = run.engine
            value = msg.value() or b""
            before = (engine.late, engine.duplicates)
            try:
                datum = self._decode(serde, value, topic, partition, offset)
                alerts = engine.process(datum, event_time(datum))
            except Stopped:
                raise
            except Exception as exc:  # one bad event never stops detection
                log.warning(
                    "event skipped by the detector",
                    extra={"error": type(exc).__name__, "partition": partition, "offset": offset},
                )
                continue
            if (engine.late, engine.duplicates) != before:
                late += engine.late - before[0]
                dup += engine.duplicates - before[1]
                continue
            evaluated += 1
            touched.add(slot)
            for _group_by, target, predicates, getters in lane.forwards:
                if any(match(datum) for match in predicates):
                    key = SEP.join(as_text(get(datum)) for get in getters)
                    self._produce(target, key.encode(), value)
            if alerts:
                self.send(alerts)
        now = time.monotonic()
        for slot in touched:
            self.clocks.saw(slot, slots[slot].engine, now)
        self.metrics.events.inc(evaluated)
        if late:
            self.metrics.late.inc(late)
        if dup:
            self.metrics.duplicates.inc(dup)

    def send(self, alerts: list[dict[str, Any]]) -> None:
        topic = self.settings.topics.alerts
        for alert in alerts:
            datum = jsonform.from_json(self.alert_schema, alert)
            value = self.alerts_serde.serialize(datum, topic)
            self._produce(topic, str(alert["dedup_key"]).encode(), value)
        self.metrics.alerts.inc(len(alerts))

    def _produce(
        self, topic: str, key: bytes, value: bytes | None, partition: int | None = None
    ) -> None:
        while True:
            try:
                if partition is None:
                    self.producer.produce(topic, value=value, key=key, on_delivery=self._delivered)
                else:
                    self.producer.produce(topic, value, key, partition, on_delivery=self._delivered)
                return
            except BufferError:
                self.producer.poll(0.05)

    def _delivered(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._failed.append(err.str())

    def _flush(self) -> None:
        while self.producer.flush(30):
            log.warning("outputs not acknowledged yet; waiting before any commit")
        if self._failed:
            reasons, self._failed = self._failed, []
            # nothing is committed: the supervisor restarts the worker, which re-reads
            raise RetryableError(f"{len(reasons)} outputs not acknowledged: {reasons[0]}")

    def sweep(self, now: float) -> None:
        alerts = sweep({s: r.engine for s, r in self.slots.items()}, self.clocks, now)
        if alerts:
            self.send(alerts)

    def checkpoint(self, only: set[Slot] | None = None) -> None:
        """Alerts and forwards acknowledged, then changed state and progress written and
        acknowledged, then the input offsets committed."""
        self._flush()
        offsets = []
        topics = {lane.name: topic for topic, lane in self.lanes.items()}
        for slot, run in self.slots.items():
            if only is not None and slot not in only:
                continue
            changes = run.store.changes()
            for key, record in changes:
                self._produce(self.changelog, record_key(slot, key), record, slot[1])
            progress = run.engine.progress()
            if run.next_offset is not None and (changes or progress != run.saved):
                record = Progress(progress, run.next_offset).encode()
                self._produce(self.changelog, record_key(slot, PROGRESS), record, slot[1])
                run.saved = progress
            if run.next_offset is not None:
                offsets.append(TopicPartition(topics[slot[0]], slot[1], run.next_offset))
        self._flush()
        if offsets and self.consumer is not None:
            clients.commit(self.consumer, offsets)
        total = sum(r.engine.duplicates for r in self.slots.values())
        if total > self._duplicates_logged:
            log.info(
                "duplicate events skipped",
                extra={"duplicates": total - self._duplicates_logged, "total": total},
            )
        self._duplicates_logged = total

    # --- rebalancing ----------------------------------------------------------------------------

    def _slots_of(self, tps: list[TopicPartition]) -> list[Slot]:
        return [(self.lanes[tp.topic].name, tp.partition) for tp in tps if tp.topic in self.lanes]

    def _on_assign(self, _consumer: Consumer, tps: list[TopicPartition]) -> None:
        by_partition: dict[int, list[str]] = {}
        for lane, partition in self._slots_of(tps):
            by_partition.setdefault(partition, []).append(lane)
        for partition, names in by_partition.items():
            restored = restore(self.conn, self.changelog, partition, names, self.options.app_id)
            for name, got in restored.items():
                rules = next(ln.rules for ln in self.lanes.values() if ln.name == name)
                engine = Engine(rules, self.config, store=got.store)
                run = SlotRun(engine, got.store)
                if got.progress is not None:
                    engine.resume(got.progress.engine)
                    run.skip_below = got.progress.offset
                    run.saved = engine.progress()
                self.slots[(name, partition)] = run
                log.info(
                    "slot restored",
                    extra={
                        "lane": name or "events",
                        "partition": partition,
                        "states": len(got.store),
                        "watermark": engine.watermark,
                    },
                )

    def _on_revoke(self, _consumer: Consumer, tps: list[TopicPartition]) -> None:
        gone = set(self._slots_of(tps))
        try:
            self.checkpoint(gone)
        finally:
            for slot in gone:
                self.slots.pop(slot, None)
                self.clocks.forget(slot)
