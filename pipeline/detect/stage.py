"""The streaming detector: a faust agent over ``audit.events`` that keeps the engine's state in
a changelog-backed table and produces alerts to ``audit.alerts``.

- ``audit.events`` is keyed by the actor's pseudonym, so rules grouped by ``actor.id`` (all
  shipped rules, alone or with more fields) see each group's events on one partition, in
  order, and run where the events land. Rules grouped otherwise (``actor.ip``, a target, or no
  group) are repartitioned (``partitioning.split``): the events any of their detections match
  are forwarded (awaited, before the event is acknowledged) to an internal topic
  ``<app id>-by-<group-by>`` keyed by the group's values, and a second agent per such topic
  evaluates those rules there (a *lane*). Events from several source partitions meet there,
  so their order is only as good as the allowed lateness absorbs.
- One ``Engine`` per lane and partition (the watermark is per partition). Its state lives in
  one faust ``Table`` under keys prefixed with the partition (``PartitionView``); the internal
  topics have as many partitions as ``audit.events``, so lane partition N keeps its state in
  changelog partition N, which faust assigns together with them. A worker that takes
  over a partition after a restart or a rebalance recovers exactly that partition's state from
  the changelog; every write or expiry delete goes to that partition of the changelog.
- A timer (``sweep_interval_s``) expires state of owned partitions and emits the final
  updates of closed incidents. A partition without events for ``idle_after_s`` has its
  watermark advanced with wall time (idle sources do not hold event time back), so windows
  close without traffic; an event that then arrives more than the allowed lateness behind is
  late. Engines of revoked partitions are dropped.
- Alerts are sent and awaited (acks=all) before the agent moves on, so an event's offset is
  committed only after its alerts are durable; a restart may re-send an alert, with the same
  deterministic ``alert_id``/``dedup_key``, which the router de-duplicates.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_kafka

from pipeline.detect import partitioning
from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import SEP, US, Engine
from pipeline.detect.fields import as_text, getter
from pipeline.detect.loader import load_rules
from pipeline.detect.matcher import Predicate
from pipeline.detect.model import RuleSet
from pipeline.detect.partitioning import GroupBy
from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.settings import Settings

log = logging.getLogger(__name__)

TABLE = "detect-state"
PARTITION_KEY = "actor.id"  # audit.events is keyed by the actor's pseudonym
Slot = tuple[str, int]  # (lane, partition): one engine each
# Longest a fetch request waits at the broker for data. faust hard-codes 1500 ms, and aiokafka
# leaves a partition whose buffered records were not yet consumed out of the next request; that
# partition is fetched again only after the request in flight returns, so an event arriving on
# it meanwhile waited up to 1.5 s (seen as 1.27 s alert latency outliers). 50 ms bounds that wait
# at the cost of ~20 empty fetch requests per second per broker when idle.
FETCH_MAX_WAIT_MS = 50
PRODUCER_LINGER_S = 0.005
# faust's worker leaves these libraries' loggers at DEBUG: every send built a log record
QUIET_LIBRARIES = ("aiokafka", "faust", "mode")


LOG_LEVELS = {"crit": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING}


def quiet_libraries(loglevel: str) -> None:
    """Raise the Kafka/faust libraries' loggers to the worker's log level (warn or above)."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(LOG_LEVELS.get(loglevel, logging.NOTSET))


class _ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when it starts its fetcher; faust offers no setting for it
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def seek_to_committed(self) -> Mapping[Any, int]:
        return cast(Mapping[Any, int], await self.call_thread(self._seek_to_committed))

    async def _seek_to_committed(self) -> Mapping[Any, int]:
        """Seek every assigned partition to its committed offset, and one with none (or 0) to
        its beginning. faust starts fetching before its recovery seeks, and drops what it
        fetched; aiokafka's own seek leaves a partition without a committed offset (or at 0)
        where its fetcher is, so those dropped records were never processed — and later
        commits on that partition went past them (an event lost after every restart)."""
        consumer = self._ensure_consumer()
        committed: Mapping[Any, int] = await consumer.seek_to_committed()
        unstarted = [tp for tp, offset in committed.items() if not offset or offset < 0]
        if unstarted:
            await consumer.seek_to_beginning(*unstarted)  # auto.offset.reset is earliest
        return committed


class _Consumer(faust_kafka.Consumer):
    def _new_consumer_thread(self) -> faust_kafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """Stop the flow, then seek. faust's recovery seeks the stream partitions to their
        committed offsets and only then resumes its flow control, which empties the stream
        queues; records fetched in between were dropped although their offsets counted as read,
        so the partition stalled, or lost them once later records were committed (seen after a
        kill -9 as a missed correlation alert). With the flow stopped nothing is delivered until
        recovery resumes it (every caller of this does), and all is fetched again after it."""
        self.stop_flow()
        await super().perform_seek()


class LowLatencyTransport(faust_kafka.Transport):
    """faust's aiokafka transport with a short fetch wait (``FETCH_MAX_WAIT_MS``)."""

    Consumer = _Consumer


class PartitionView(MutableMapping[str, Any]):
    """The slice of a shared table that belongs to one partition (keys prefixed ``p<N>|``, and
    a name space per lane).

    Writes go to the table's store and to changelog partition N explicitly, not through faust's
    routing by the event being processed, so a timer can expire state between events.
    """

    def __init__(self, table: Any, partition: int, space: str = "") -> None:
        self._table = table
        self._partition = partition
        self._prefix = f"p{partition}|{space}"

    def __getitem__(self, key: str) -> Any:
        value = self._table.data.get(self._prefix + key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._table.data.get(self._prefix + key)
        return default if value is None else value

    def __setitem__(self, key: str, value: Any) -> None:
        self._table.data[self._prefix + key] = value
        self._table.send_changelog(self._partition, self._prefix + key, value)

    def __delitem__(self, key: str) -> None:
        del self._table.data[self._prefix + key]
        self._table.send_changelog(
            self._partition, self._prefix + key, None, value_serializer="raw"
        )

    def __iter__(self) -> Iterator[str]:
        n = len(self._prefix)
        return iter([k[n:] for k in list(self._table.data) if k.startswith(self._prefix)])

    def __len__(self) -> int:
        return sum(1 for k in list(self._table.data) if k.startswith(self._prefix))


class Clocks:
    """Per partition: wall time and watermark at its last event, to advance idle partitions."""

    def __init__(self, idle_after_s: float) -> None:
        self.idle_after_s = idle_after_s
        self._last: dict[Slot, tuple[float, int]] = {}

    def saw(self, partition: Slot, engine: Engine, now: float) -> None:
        self._last[partition] = (now, engine.watermark)

    def target(self, partition: Slot, engine: Engine, now: float) -> int:
        """The watermark the partition should have at ``now`` (monotonic seconds)."""
        wall, mark = self._last.get(partition, (now, engine.watermark))
        idle = now - wall
        return mark + int(idle * US) if idle >= self.idle_after_s else engine.watermark

    def forget(self, partition: Slot) -> None:
        self._last.pop(partition, None)


async def sweep(
    engines: dict[Slot, Engine],
    active: set[Slot],
    clocks: Clocks,
    send: Callable[[list[dict[str, Any]]], Awaitable[None]],
    now: float,
) -> int:
    """Expire state of every owned partition (idle ones advanced); drop engines of others."""
    alerts = 0
    for partition, engine in list(engines.items()):
        if partition not in active:  # revoked: its state is another worker's now
            del engines[partition]
            clocks.forget(partition)
            continue
        out = engine.advance(clocks.target(partition, engine, now))
        alerts += len(out)
        if out:
            await send(out)
    return alerts


@dataclass
class Lane:
    """One input of the detector: ``audit.events`` (rules grouped by the actor), or an internal
    topic that brings together by their group key the events of rules grouped otherwise."""

    name: str  # "" for audit.events, else the group-by's slug
    topic: Any  # faust TopicT
    rules: RuleSet
    forwards: list[tuple[GroupBy, Any, list[Predicate]]] = field(default_factory=list)


def build_app(
    settings: Settings,
    *,
    app_id: str = "auditpipe-detector",
    rules_dir: Path | None = None,
    config: EngineConfig | None = None,
    loglevel: str = "warn",
) -> faust.App:
    """The detector's faust app (built in a function: no import-time side effects)."""
    rules = load_rules(rules_dir or settings.rules_dir / "detection")
    cfg = config or EngineConfig()
    t = settings.topics
    # broker URL, client id, security (SASL/TLS credentials), session and poll timeouts: the
    # client layer's, like every confluent-kafka client's. The session timeout (10 s by
    # default) is how soon a killed worker's partitions move to a survivor; heartbeats come
    # from aiokafka's own task, so a slow event does not count against it.
    conn = clients.connection(settings, app_id)
    app = faust.App(
        app_id,
        **clients.faust_settings(conn),
        store="memory://",
        # the tables live in memory and their changelog topic, so faust's data directory only
        # ever holds empty folders: keep them out of the working directory (faust creates the
        # folder without its parents)
        datadir=Path(tempfile.gettempdir()) / f"auditpipe-faust-{app_id}",
        topic_partitions=t.partitions,
        topic_replication_factor=t.replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        producer_acks=-1,
        # batch the changelog writes (one per state change) into fewer produce requests; an
        # alert waits at most this long more for its batch
        producer_linger=PRODUCER_LINGER_S,
        table_cleanup_interval=3600,
    )
    app.transport = LowLatencyTransport(app.conf.broker_consumer, app)
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    local, remote = partitioning.split(rules, PARTITION_KEY)
    events = Lane("", app.topic(t.events, **raw), local)
    lanes = [events]
    # the lanes' topics exist before the consumer subscribes: a topic created during the first
    # assignment would get no partitions until the next metadata refresh and rebalance
    lane_topics = {g: f"{app_id}-by-{partitioning.slug(g)}" for g in remote}
    if lane_topics:
        specs = [TopicSpec(n, t.partitions, t.replication_factor) for n in lane_topics.values()]
        ensure_topics(conn, specs)
    for group_by, subset in remote.items():
        name = partitioning.slug(group_by)
        topic = app.topic(lane_topics[group_by], partitions=t.partitions, internal=True, **raw)
        lanes.append(Lane(name, topic, subset))
        events.forwards.append((group_by, topic, [d.predicate for d in subset.detections]))
        log.info(
            "rules repartitioned by their group key",
            extra={"group_by": ",".join(group_by) or "-", "rules": len(subset.all_rules())},
        )
    alerts_topic = app.topic(t.alerts, **raw)
    table = app.Table(TABLE, default=None, partitions=t.partitions)
    client = registry_client(settings.registry_url)
    events_serde = AvroSerde(client, AUDIT_EVENT)
    alerts_serde = AvroSerde(client, ALERT)
    event_schema, alert_schema = parsed_schema(AUDIT_EVENT), parsed_schema(ALERT)
    engines: dict[Slot, Engine] = {}
    clocks = Clocks(cfg.idle_after_s)

    async def send(alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            datum = jsonform.from_json(alert_schema, alert)
            value = alerts_serde.serialize(datum, t.alerts)
            fut = await alerts_topic.send(key=datum["dedup_key"].encode(), value=value)
            await fut  # durable before the event is acknowledged

    def agent(lane: Lane) -> Callable[[faust.StreamT[Any]], Awaitable[None]]:
        space = f"{lane.name}|" if lane.name else ""

        async def detect(stream: faust.StreamT[Any]) -> None:
            async for event in stream.events():
                msg = event.message
                slot = (lane.name, msg.partition)
                engine = engines.get(slot)
                if engine is None:
                    view = PartitionView(table, msg.partition, space)
                    engine = engines[slot] = Engine(lane.rules, cfg, store=view)
                try:
                    datum = events_serde.deserialize(
                        msg.value or b"", msg.topic, partition=msg.partition, offset=msg.offset
                    )
                    doc = jsonform.to_json(event_schema, datum)
                    alerts = engine.process(doc)
                except Exception as exc:  # one bad event never stops detection
                    log.warning(
                        "event skipped by the detector",
                        extra={
                            "error": type(exc).__name__,
                            "partition": msg.partition,
                            "offset": msg.offset,
                        },
                    )
                    continue
                clocks.saw(slot, engine, time.monotonic())
                for group_by, topic, predicates in lane.forwards:
                    if any(match(doc) for match in predicates):
                        key = SEP.join(as_text(getter(f)(doc)) for f in group_by)
                        fut = await topic.send(key=key.encode(), value=msg.value)
                        await fut  # forwarded durably before the event is acknowledged
                if alerts:
                    await send(alerts)

        return detect

    for lane in lanes:
        app.agent(lane.topic, name=f"detect-{lane.name or 'events'}")(agent(lane))

    async def expire() -> None:
        owned = app.assignor.assigned_actives()
        active = {
            (lane.name, tp.partition)
            for lane in lanes
            for tp in owned
            if tp.topic in lane.topic.topics
        }
        await sweep(engines, active, clocks, send, time.monotonic())

    app.timer(interval=cfg.sweep_interval_s)(expire)

    async def quiet() -> None:  # after the worker has set up logging
        quiet_libraries(loglevel)

    app.task(quiet)
    return app
