"""The streaming detector: a faust agent over ``audit.events`` that keeps the engine's state in
a changelog-backed table and produces alerts to ``audit.alerts``.

- ``audit.events`` is keyed by the actor's pseudonym, so rules grouped by ``actor.id`` (all
  shipped rules) see each actor's events on one partition, in order: no repartition needed.
- One ``Engine`` per partition (the watermark is per partition). Its state lives in one faust
  ``Table`` under keys prefixed with the partition (``PartitionView``), so a worker that takes
  over a partition after a restart or a rebalance recovers exactly that partition's state from
  the changelog, and every write (or expiry delete) goes to the changelog partition of the
  event being processed, as faust requires.
- Alerts are sent and awaited (acks=all) before the agent moves on, so an event's offset is
  committed only after its alerts are durable; a restart may re-send an alert, with the same
  deterministic ``alert_id``/``dedup_key``, which the router de-duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_kafka

from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.settings import Settings

log = logging.getLogger(__name__)

TABLE = "detect-state"
# Longest a fetch request waits at the broker for data. faust hard-codes 1500 ms, and aiokafka
# leaves a partition whose buffered records were not yet consumed out of the next request; that
# partition is fetched again only after the request in flight returns, so an event arriving on
# it meanwhile waited up to 1.5 s (seen as 1.27 s alert latency outliers). 50 ms bounds that wait
# at the cost of ~20 empty fetch requests per second per broker when idle.
FETCH_MAX_WAIT_MS = 50


class _ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when it starts its fetcher; faust offers no setting for it
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_kafka.Consumer):
    def _new_consumer_thread(self) -> faust_kafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class LowLatencyTransport(faust_kafka.Transport):
    """faust's aiokafka transport with a short fetch wait (``FETCH_MAX_WAIT_MS``)."""

    Consumer = _Consumer


class PartitionView(MutableMapping[str, Any]):
    """The slice of a shared table that belongs to one partition (keys prefixed ``p<N>|``)."""

    def __init__(self, table: MutableMapping[str, Any], partition: int) -> None:
        self._table = table
        self._prefix = f"p{partition}|"

    def __getitem__(self, key: str) -> Any:
        value = self._table[self._prefix + key]
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._table.get(self._prefix + key)
        return default if value is None else value

    def __setitem__(self, key: str, value: Any) -> None:
        self._table[self._prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self._table[self._prefix + key]

    def __iter__(self) -> Iterator[str]:
        n = len(self._prefix)
        return iter([k[n:] for k in list(self._table) if k.startswith(self._prefix)])

    def __len__(self) -> int:
        return sum(1 for k in list(self._table) if k.startswith(self._prefix))


def broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip())


def build_app(
    settings: Settings, *, app_id: str = "auditpipe-detector", rules_dir: Path | None = None
) -> faust.App:
    """The detector's faust app (built in a function: no import-time side effects)."""
    rules = load_rules(rules_dir or settings.rules_dir / "detection")
    t = settings.topics
    app = faust.App(
        app_id,
        broker=broker_url(settings.kafka_bootstrap),
        store="memory://",
        topic_partitions=t.partitions,
        topic_replication_factor=t.replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        producer_acks=-1,
        table_cleanup_interval=3600,
    )
    app.transport = LowLatencyTransport(app.conf.broker_consumer, app)
    events_topic = app.topic(t.events, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(t.alerts, key_serializer="raw", value_serializer="raw")
    table = app.Table(TABLE, default=None, partitions=t.partitions)
    client = registry_client(settings.registry_url)
    events_serde = AvroSerde(client, AUDIT_EVENT)
    alerts_serde = AvroSerde(client, ALERT)
    event_schema, alert_schema = parsed_schema(AUDIT_EVENT), parsed_schema(ALERT)
    engines: dict[int, Engine] = {}

    async def send(alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            datum = jsonform.from_json(alert_schema, alert)
            value = alerts_serde.serialize(datum, t.alerts)
            fut = await alerts_topic.send(key=datum["dedup_key"].encode(), value=value)
            await fut  # durable before the event is acknowledged

    @app.agent(events_topic)
    async def detect(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            msg = event.message
            engine = engines.get(msg.partition)
            if engine is None:
                engine = engines[msg.partition] = Engine(
                    rules, store=PartitionView(table, msg.partition)
                )
            try:
                datum = events_serde.deserialize(
                    msg.value or b"", msg.topic, partition=msg.partition, offset=msg.offset
                )
                alerts = engine.process(jsonform.to_json(event_schema, datum))
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
            if alerts:
                await send(alerts)

    _ = detect
    return app
