"""The streaming router: ``audit.alerts`` → routing, grouping, inhibition, silences → receivers.

One asyncio loop per worker process. Each turn:

1. consume a batch of alerts (librdkafka consumer, in a thread) and ingest each into the
   :class:`~pipeline.route.engine.Router` of its input partition;
2. apply new silences from the compacted silences topic (every instance reads all of it);
3. ask every router for due notifications and put them in that partition's **outbox**;
4. write the state of every partition that changed (router state, outbox, ticket ledger) to
   the compacted state topic and **await the acknowledgement**;
5. only then commit the consumed offsets;
6. hand the new outbox entries to the per-receiver workers (``dispatch``), which deliver,
   retry and audit; a finished delivery leaves the outbox (written at once).

So a kill -9 at any point neither loses nor repeats a page: before step 4 nothing was sent and
the alerts are re-consumed; after it the decision (the group's "last sent") is durable, so
re-consumed alerts are already known, and an unfinished delivery is retried from the outbox
with the same ``Idempotency-Key``. The one window left is a delivery that completed at the
receiver but whose record (written as soon as it finishes) was not yet acknowledged: it is
re-sent with the same ``Idempotency-Key`` and ``dedup_key``, which the receiver (and
PagerDuty) use to drop it.

Why not faust (as the issue suggests): the order "state durable → offsets committed →
deliver" must be explicit, and faust-streaming commits offsets on its own schedule with known
at-least-once gaps (faust-streaming#606); its changelog writes are not awaited before the
commit. This loop keeps the same model (per-partition state in a compacted changelog-like
topic, restored on assignment) with the order spelled out.

Input: the alerts re-keyed by ``rule_id`` (``forward``: a stateless hop run in a thread of the
same process), so every group and inhibition keyed by ``rule_id`` is partition-local and the
router scales by partitions and instances (consumer groups).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from confluent_kafka import Consumer, Message, TopicPartition

from pipeline.errors import RetryableError
from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.kafka.stage import BatchStage, StageConfig
from pipeline.kafka.topicio import AsyncProducer, TopicTail
from pipeline.produce import AuditProducer, ProducerConfig
from pipeline.route.config import KafkaReceiver, RoutingConfig
from pipeline.route.delivery import ROUTER_SERVICE
from pipeline.route.dispatch import HttpTransport, Job, KafkaTransport, ReceiverWorker, Transport
from pipeline.route.forward import ByRule, partition_warnings
from pipeline.route.metrics import RouterMetrics
from pipeline.route.retry import BreakerRecord, CircuitBreaker, RetryPolicy, retry_policy_for
from pipeline.route.sender import check_secrets
from pipeline.route.silencelog import apply_records, load_silences
from pipeline.route.state import PartitionState, StateStore, outbox_key
from pipeline.route.times import to_us
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouterOptions:
    group_id: str = "auditpipe-router"
    audit_topic: str | None = None  # default: audit.raw.auditpipe-router
    environment: str = "dev"
    max_batch: int = 500
    max_wait_s: float = 0.1
    breaker_threshold: int = 5
    breaker_cool_down_s: float = 30.0
    retry_base_s: float = 0.5


class RouterStage:
    def __init__(
        self,
        settings: Settings,
        config: RoutingConfig,
        environ: Mapping[str, str],
        options: RouterOptions,
        metrics: RouterMetrics,
    ) -> None:
        self.settings = settings
        self.config = config
        self.environ = dict(environ)
        self.options = options
        self.metrics = metrics
        # its session timeout (AUDITPIPE_KAFKA__SESSION_TIMEOUT_MS, 10 s) is how soon a killed
        # instance's partitions are taken over
        self.conn = clients.connection(settings, "auditpipe-router")
        t = settings.topics
        self.store = StateStore(self.conn, t.router_state, options.group_id, t.router_in)
        self.parts: dict[int, PartitionState] = {}
        self.workers: dict[str, ReceiverWorker] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self._dirty: set[int] = set()
        self._breakers_dirty = False
        self._inflight: set[tuple[int, str]] = set()
        self._rebalance: list[tuple[str, list[int]]] = []
        self.run_id = uuid.uuid4().hex[:12]
        self._producer: AsyncProducer | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.failed = False
        for receiver in config.receivers:
            if not isinstance(receiver, KafkaReceiver):
                check_secrets(receiver, self.environ)
        for warning in partition_warnings(config):
            log.warning("routing spans partitions", extra={"detail": warning})

    # --- hooks the workers call (dispatch.Hooks) ----------------------------------------------

    def audit(self, event: dict[str, Any]) -> None:
        self._audit.emit_event(event, topic=self._audit_topic)  # may raise: the caller retries
        self.metrics.attempts.labels(event["details"]["receiver"], event["outcome"]).inc()

    def tickets_done(self, job: Job) -> frozenset[str]:
        part = self.parts.get(job.partition)
        return frozenset(part.tickets) if part else frozenset()

    def wanted(self, job: Job) -> bool:
        part = self.parts.get(job.partition)
        if part is not None and job.key in part.outbox:
            return True
        self._inflight.discard((job.partition, job.key))
        return False

    def finished(self, job: Job, delivered: bool, tickets: list[str]) -> None:
        self._inflight.discard((job.partition, job.key))
        (self.metrics.sent if delivered else self.metrics.failed).labels(job.note.receiver).inc()
        decided = datetime.fromisoformat(job.note.ts.replace("Z", "+00:00"))
        self.metrics.delivery_latency.labels(job.note.receiver).observe(
            max(0.0, (datetime.now(UTC) - decided).total_seconds())
        )
        part = self.parts.get(job.partition)
        if part is None:
            return
        part.pop_outbox(job.key)
        now_us = to_us(datetime.now(UTC))
        for key in tickets:
            part.add_ticket(key, now_us)
        self._dirty.add(job.partition)
        # record it now, not at the next turn: a kill -9 in between would re-send it
        if self._producer is not None:
            task = asyncio.get_running_loop().create_task(self._persist_logged(self._producer))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def breaker_changed(self) -> None:
        self._breakers_dirty = True

    # --- set-up -------------------------------------------------------------------------------

    def _transport(
        self, name: str, session: aiohttp.ClientSession, producer: AsyncProducer
    ) -> Transport:
        receiver = self.config.receiver(name)
        if isinstance(receiver, KafkaReceiver):
            return KafkaTransport(receiver, producer)
        return HttpTransport(receiver, session, self.environ)

    def _policy(self, name: str) -> RetryPolicy:
        receiver = self.config.receiver(name)
        max_retries = getattr(receiver, "max_retries", 5)
        timeout = getattr(receiver, "timeout", None)
        base = retry_policy_for(max_retries, timeout.total_seconds() if timeout else 10.0)
        return RetryPolicy(base.max_attempts, self.options.retry_base_s, base.cap_s)

    def _start_workers(
        self,
        session: aiohttp.ClientSession,
        producer: AsyncProducer,
        saved: dict[str, BreakerRecord],
    ) -> list[asyncio.Task[None]]:
        tasks = []
        for receiver in self.config.receivers:
            breaker = CircuitBreaker(
                self.options.breaker_threshold,
                self.options.breaker_cool_down_s,
                state=saved.get(receiver.name),
            )
            self.breakers[receiver.name] = breaker
            worker = ReceiverWorker(
                receiver,
                self._transport(receiver.name, session, producer),
                policy=self._policy(receiver.name),
                breaker=breaker,
                hooks=self,
                environment=self.options.environment,
                run_id=self.run_id,
            )
            self.workers[receiver.name] = worker
            tasks.append(asyncio.create_task(worker.run(), name=f"receiver-{receiver.name}"))
        return tasks

    def _submit(self, partition: int, key: str, job: Job) -> None:
        if (partition, key) in self._inflight:
            return
        worker = self.workers.get(job.note.receiver)
        if worker is None:  # the receiver left the routing file: drop it from the outbox
            self.parts[partition].pop_outbox(key)
            self._dirty.add(partition)
            return
        self._inflight.add((partition, key))
        worker.submit(job)

    async def _apply_rebalance(self) -> None:
        while self._rebalance:
            kind, partitions = self._rebalance.pop(0)
            if kind == "revoke":
                for p in partitions:
                    self.parts.pop(p, None)
                    self._dirty.discard(p)
                continue
            fresh = [p for p in partitions if p not in self.parts]
            if not fresh:
                continue
            # reading the state topic may take a moment: keep the receivers' tasks running
            loaded, _ = await asyncio.to_thread(self.store.load, fresh, self.config, self.silences)
            self.parts.update(loaded)
            for p, part in loaded.items():
                for key, note in part.pending():
                    self._submit(p, key, Job(p, key, note))
            log.info("partitions assigned", extra={"partitions": fresh})

    # --- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        t = self.settings.topics
        self.silences = load_silences(self.conn, t.silences)
        tail = TopicTail(self.conn, t.silences)
        client = registry_client(self.settings.registry_url)
        serde = AvroSerde(client, ALERT)
        schema = parsed_schema(ALERT)
        self._audit_topic = self.options.audit_topic or f"audit.raw.{ROUTER_SERVICE}"
        self._audit = AuditProducer(
            ProducerConfig(
                kafka=self.conn,
                registry_url=self.settings.registry_url,
                service=ROUTER_SERVICE,
                environment=self.options.environment,
                topic=self._audit_topic,
                linger_ms=5,
            ),
            serde=AvroSerde(client),
        )
        producer = self._producer = AsyncProducer(self.conn)
        _, saved_breakers = self.store.load([], self.config, self.silences)
        consumer = clients.consumer(
            self.conn,
            self.options.group_id,
            {"enable.auto.commit": False, "auto.offset.reset": "earliest"},
            logger=logging.getLogger("pipeline.route.librdkafka"),
        )

        def on_assign(_c: Consumer, tps: list[TopicPartition]) -> None:
            self._rebalance.append(("assign", [tp.partition for tp in tps]))

        def on_revoke(_c: Consumer, tps: list[TopicPartition]) -> None:
            self._rebalance.append(("revoke", [tp.partition for tp in tps]))

        consumer.subscribe([t.router_in], on_assign=on_assign, on_revoke=on_revoke)
        hop = BatchStage(
            self.conn,
            StageConfig(
                group_id=f"{self.options.group_id}.by-rule",
                topics=[t.alerts],
                batch_size=self.options.max_batch,
                batch_timeout_s=0.01,
                linger_ms=0,
            ),
            ByRule(AvroSerde(client, ALERT), t.router_in),  # its own: used from its thread
        )
        loop = asyncio.get_running_loop()

        def run_hop() -> None:
            try:
                hop.run()
            except Exception:  # never die silently: stop the router (the supervisor restarts)
                log.exception("the by-rule hop failed; stopping the router")
                self.failed = True
                loop.call_soon_threadsafe(stop.set)

        hop_thread = threading.Thread(target=run_hop, name="router-by-rule", daemon=True)
        hop_thread.start()
        session = aiohttp.ClientSession()
        tasks = self._start_workers(session, producer, saved_breakers)
        log.info("router started", extra={"topic": t.alerts, "group": self.options.group_id})
        try:
            while not stop.is_set():
                msgs = await asyncio.to_thread(
                    _fetch, consumer, self.options.max_batch, self._wait_s()
                )
                apply_records(self.silences, tail.poll())
                await self._turn(consumer, msgs, serde, schema, producer)
        finally:
            hop.stop()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self._persist(producer)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await session.close()
            consumer.close()
            tail.close()
            producer.close()
            self._audit.close()
            await asyncio.to_thread(hop_thread.join, 10)
            log.info("router stopped")

    def _wait_s(self) -> float:
        nxt = [n for p in self.parts.values() if (n := p.router.next_due()) is not None]
        if not nxt:
            return self.options.max_wait_s
        left = (min(nxt) - datetime.now(UTC)).total_seconds()
        return min(self.options.max_wait_s, max(0.0, left))

    async def _turn(
        self,
        consumer: Consumer,
        msgs: list[Message],
        serde: AvroSerde,
        schema: dict[str, Any],
        producer: AsyncProducer,
    ) -> None:
        await self._apply_rebalance()
        now = datetime.now(UTC)
        offsets: dict[int, int] = {}
        for msg in msgs:
            if msg.error() is not None:
                continue
            p, offset = msg.partition() or 0, msg.offset() or 0
            part = self.parts.get(p)
            if part is None:  # revoked in the meantime: the new owner consumes it
                continue
            offsets[p] = max(offsets.get(p, -1), offset + 1)
            self._dirty.add(p)
            try:
                datum = await _decode(serde, msg, p)
                part.router.ingest(jsonform.to_json(schema, datum), now)
            except Exception as exc:  # one bad record never stops routing
                log.warning("alert skipped", extra={"error": type(exc).__name__, "partition": p})
                continue
            self.metrics.alerts_in.inc()
        new: list[Job] = []
        for p, part in self.parts.items():
            for note in part.router.due(now):
                key = outbox_key(note)
                part.put_outbox(key, note)
                new.append(Job(p, key, note))
                self._dirty.add(p)
            for receiver, reason in part.router.take_suppressed():
                self.metrics.suppressed.labels(receiver, reason).inc()
        await self._persist(producer)
        if offsets:
            tps = [
                TopicPartition(self.settings.topics.router_in, p, o)
                for p, o in offsets.items()
                if p in self.parts
            ]
            if tps:
                await asyncio.to_thread(_commit, consumer, tps)
        for job in new:
            self._submit(job.partition, job.key, job)
        self.metrics.pending.set(sum(len(p.outbox) for p in self.parts.values()))

    async def _persist(self, producer: AsyncProducer) -> None:
        dirty, self._dirty = self._dirty, set()
        now_us = to_us(datetime.now(UTC))
        writes = []
        for p in dirty:
            part = self.parts.get(p)
            if part is not None:
                part.prune_tickets(now_us)
                writes.append(self.store.save(producer, part))
        breakers = self._breakers_dirty
        if breakers:
            self._breakers_dirty = False
            writes.append(
                self.store.save_breakers(producer, {n: b.record for n, b in self.breakers.items()})
            )
        if writes:
            try:
                await asyncio.gather(*writes)
            except Exception:
                self._dirty |= dirty  # written again by the next persist
                self._breakers_dirty = self._breakers_dirty or breakers
                raise

    async def _persist_logged(self, producer: AsyncProducer) -> None:
        try:
            await self._persist(producer)
        except Exception as exc:  # the next turn writes it again (and stops on a failure)
            log.warning("state write failed; retried", extra={"error": type(exc).__name__})


def _fetch(consumer: Consumer, max_records: int, timeout: float) -> list[Message]:
    """Wait up to ``timeout`` for the first record only, then take what is already fetched
    (``consume(n, timeout)`` would wait the whole timeout for ``n`` records)."""
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(max_records - 1, 0)]


def _commit(consumer: Consumer, tps: list[TopicPartition]) -> None:
    # refused after a rebalance: those alerts are re-consumed by the new owner (their state is
    # durable already); an error retrying cannot fix stops the router
    clients.commit(consumer, tps)


async def _decode(serde: AvroSerde, msg: Message, partition: int) -> dict[str, Any]:
    """An alert, decoded; while the schema registry does not answer, retried with backoff
    (skipping it, as a bad record is, lost the alert: found by the e2e run, tests/e2e)."""
    attempt = 0
    while True:
        try:
            return serde.deserialize(msg.value() or b"", msg.topic() or "", partition=partition)
        except RetryableError as exc:
            attempt += 1
            if attempt == 1 or attempt % 10 == 0:
                log.warning(
                    "schema registry unavailable; retrying the alert",
                    extra={"error": type(exc).__name__, "attempt": attempt},
                )
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
