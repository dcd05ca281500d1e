"""``AuditProducer``: emit audit events to Kafka without blocking the caller or losing one.

- Idempotent producer, ``acks=all``, zstd, batching (librdkafka via confluent-kafka).
- ``emit(...)`` fills ``event_id``, ``ts``, ``service``, ``environment`` and the current
  ``request_id``/``trace_id``/``span_id`` from context, validates against the schema (a bad
  event raises ``InvalidEventError`` at once), and keys the record by actor id.
- Scrubbed before it is sent (``scrubbing.py``): the sanitizer's policy, on by default, with
  ``ProducerConfig(scrub=False)`` to opt out.
- Bounded memory: librdkafka's queue is bounded; when it is full, ``emit`` waits at most
  ``block_timeout_s`` and then appends the event to the on-disk spool. Records the broker does
  not take within ``message_timeout_ms`` (broker down) also go to the spool, from their delivery
  reports. Nothing is dropped silently.
- A schema registry that does not answer does not lose an event either: one this producer
  cannot yet give a schema id to is spooled with a placeholder id (``PENDING_HEADER``, never
  sent) and gets its real id when the spool is replayed with the registry back. A spooled
  record that can never be sent (written by an SDK with another schema version, or not
  decodable) is set aside in ``<seq>.refused`` beside the spool, counted
  (``stats().spool_refused``) and logged; a replay the registry refuses (e.g. a 4xx) keeps the
  events and is retried at a slowing pace (up to a minute), one log line per try.
- The spool is replayed, oldest first, once the broker takes records again (a background
  thread serves delivery reports and checks this). A replay after a crash may deliver an event
  twice: downstream stages remove duplicates by ``event_id``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import fastavro
from confluent_kafka import KafkaError, KafkaException, Message
from fastavro.schema import fingerprint, to_parsing_canonical_form

from pipeline.errors import InvalidEventError, RegistryUnavailableError
from pipeline.events import context, jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.produce.config import ProducerConfig
from pipeline.produce.scrubbing import build_app_scrub
from pipeline.produce.spool import Spool, SpooledRecord
from pipeline.scrub.keys import ScrubKeys

log = logging.getLogger(__name__)

#: how often an idle producer with a non-empty spool checks whether the broker is back
PROBE_INTERVAL_S = 5.0
#: after a replay failed for a reason other than an unreachable broker or registry (e.g. the
#: registry refuses the schema), the next attempt waits 2, 4, ... up to this many seconds
REPLAY_BACKOFF_MAX_S = 60.0

DeliveryHook = Callable[[str | None, KafkaError | None], None]

#: wire-format header of a spooled event whose schema id the registry has not given yet: magic
#: byte 0 and id 0xFFFFFFFF (-1 as the signed int32 of the format; registries hand out positive
#: ids). Such a record stays in the spool until its header is replaced with the real one.
PENDING_HEADER = b"\x00\xff\xff\xff\xff"
#: after ``PENDING_HEADER``: Avro's single-object marker and the writer schema's CRC-64-AVRO
#: fingerprint, so a replay by an SDK with another schema version sets the record aside
#: instead of decoding it with the wrong schema (records without it: the current schema)
PENDING_SCHEMA_MARK = b"\xc3\x01"


@dataclass(frozen=True)
class ProducerStats:
    emitted: int
    delivered: int
    failed: int
    spooled: int
    replayed: int
    schema_pending: int  # of ``spooled``: for want of a schema id (the registry did not answer)
    spool_pending: int
    spool_refused: int  # spooled records that can never be sent: set aside in ``*.refused``
    in_queue: int


class _Unsendable(Exception):
    """A spooled record that can never be sent (its reason: no content, safe to log)."""


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.emitted = 0
        self.delivered = 0
        self.failed = 0
        self.spooled = 0
        self.replayed = 0
        self.schema_pending = 0
        self.refused = 0


class AuditProducer:
    """Emit audit events. Use as a context manager, or call ``close()`` at shutdown."""

    def __init__(
        self,
        config: ProducerConfig,
        *,
        on_delivery: DeliveryHook | None = None,
        serde: AvroSerde | None = None,
        scrub_keys: ScrubKeys | None = None,
    ) -> None:
        self.config = config
        # app-side scrubbing (pipeline/produce/scrubbing.py): before any client is made, so a
        # bad policy or key file fails here
        self._scrub = build_app_scrub(config, scrub_keys)
        self._schema = parsed_schema(AUDIT_EVENT)
        self._schema_mark = PENDING_SCHEMA_MARK + bytes.fromhex(
            fingerprint(to_parsing_canonical_form(self._schema), "CRC-64-AVRO")
        )
        self._serde = serde or AvroSerde(
            registry_client(config.registry_url), auto_register=config.auto_register_schema
        )
        self._hook = on_delivery
        self._producer = clients.producer(
            config.kafka,
            config.librdkafka(),
            logger=logging.getLogger("pipeline.produce.librdkafka"),
        )
        self._spool = Spool(config.spool_dir / config.service, config.spool_fsync_interval_s)
        self._counters = _Counters()
        self._last_success = 0.0
        self._last_failure = 0.0
        self._broker_down_logged = False
        self._replay_lock = threading.Lock()
        # set when the registry failed to give a schema id: emit spools without asking it (a
        # failed ask takes seconds of client retries), until a replay gets the id
        self._registry_down = False
        self._replay_failures = 0  # replays failed in a row (not for an outage: see _try_replay)
        # no replay before then: set after the registry did not answer (PROBE_INTERVAL_S) and
        # after a replay failed (a growing wait, _try_replay)
        self._replay_retry_at = 0.0
        self._closed = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_loop, name=f"auditpipe-producer-{config.service}", daemon=True
        )
        self._poller.start()

    # --- the API ----------------------------------------------------------------------------

    def emit(
        self,
        *,
        category: str | None = None,
        action: str | None = None,
        outcome: str = "SUCCESS",
        actor: Mapping[str, Any] | None = None,
        target: Mapping[str, Any] | None = None,
        authz: Mapping[str, Any] | None = None,
        http: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        details: Mapping[str, str] | None = None,
        ts: datetime | None = None,
        event_id: str | None = None,
        request_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        topic: str | None = None,
    ) -> str:
        """Validate, serialize and hand one event to the producer; return its ``event_id``.

        Raises ``InvalidEventError`` (field path and reason) if the event does not match the
        schema. Never raises because the broker is down: the event is spooled instead.
        """
        doc: dict[str, Any] = {
            "event_id": event_id or str(uuid.uuid4()),
            "ts": ts or datetime.now(UTC),
            "service": self.config.service,
            "environment": self.config.environment,
            "category": category,
            "action": action,
            "outcome": outcome,
            "actor": dict(actor) if actor is not None else None,
            "request_id": request_id or context.request_id_var.get() or context.new_request_id(),
            "trace_id": trace_id or context.trace_id_var.get(),
            "span_id": span_id or context.span_id_var.get(),
            "details": dict(details or {}),
        }
        for name, value in (("target", target), ("authz", authz), ("http", http), ("data", data)):
            if value is not None:
                doc[name] = dict(value)
        # a missing argument reads as a missing field: "category: is required"
        return self.emit_event({k: v for k, v in doc.items() if v is not None}, topic=topic)

    def emit_event(self, doc: Mapping[str, Any], *, topic: str | None = None) -> str:
        """Emit an event given in the JSON form (validated like ``emit``)."""
        datum = jsonform.from_json(self._schema, dict(doc))
        if not datum["action"]:
            raise InvalidEventError("action: must not be empty")
        if self._scrub is not None:
            datum = self._scrub(datum)  # from_json built new containers: ours to change
        target_topic = topic or self.config.default_topic
        key = datum["actor"]["id"].encode()
        value = None
        if not self._registry_down:
            try:
                value = self._serde.serialize(datum, target_topic)
            except RegistryUnavailableError as exc:
                self._registry_down = True
                self._replay_retry_at = max(
                    self._replay_retry_at, time.monotonic() + PROBE_INTERVAL_S
                )
                log.warning(
                    "schema registry unreachable: events are spooled until it answers",
                    extra={"error": str(exc)},
                )
        if value is None:
            # validated and scrubbed; only the schema id is missing: spooled, the replay in
            # the background asks the registry again
            with self._counters.lock:
                self._counters.emitted += 1
                self._counters.schema_pending += 1
            pending = SpooledRecord(target_topic, key, self._pending(datum))
            self._to_spool(pending, "no schema id: the registry did not answer")
            return str(datum["event_id"])
        with self._counters.lock:
            self._counters.emitted += 1
        self._produce(target_topic, key, value, datum["event_id"], block=True)
        return str(datum["event_id"])

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for outstanding deliveries (and a pending spool replay); return what is left."""
        deadline = time.monotonic() + timeout
        self._try_replay(force_probe=True)
        remaining = self._producer.flush(max(0.0, deadline - time.monotonic()))
        return int(remaining)

    def stats(self) -> ProducerStats:
        c = self._counters
        with c.lock:
            return ProducerStats(
                emitted=c.emitted,
                delivered=c.delivered,
                failed=c.failed,
                spooled=c.spooled,
                replayed=c.replayed,
                schema_pending=c.schema_pending,
                spool_pending=len(self._spool),
                spool_refused=c.refused,
                in_queue=len(self._producer),
            )

    @property
    def spool_dir(self) -> Path:
        return self._spool.dir

    def close(self, timeout: float = 30.0) -> ProducerStats:
        """Flush; whatever the broker did not take by ``timeout`` is moved to the spool."""
        if self._closed.is_set():
            return self.stats()
        remaining = self.flush(timeout)
        if remaining:
            log.warning(
                "broker did not take every event before close; spooling the rest",
                extra={"remaining": remaining, "spool": str(self._spool.dir)},
            )
            self._producer.purge(in_queue=True, in_flight=True, blocking=True)
            self._producer.poll(1.0)  # serve the purge's delivery reports: they spool
            self._producer.flush(1.0)
        self._closed.set()
        self._poller.join(timeout=5)
        self._spool.close()
        return self.stats()

    def __enter__(self) -> AuditProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------------

    def _produce(
        self, topic: str, key: bytes | None, value: bytes, event_id: str | None, *, block: bool
    ) -> None:
        deadline = time.monotonic() + (self.config.block_timeout_s if block else 0.0)
        on_delivery = self._delivery_callback(topic, key, value, event_id)
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    self._to_spool(SpooledRecord(topic, key, value), "producer queue full")
                    return
                self._producer.poll(0.01)
            except KafkaException as exc:
                self._to_spool(SpooledRecord(topic, key, value), f"produce failed: {exc}")
                return

    def _delivery_callback(
        self, topic: str, key: bytes | None, value: bytes, event_id: str | None
    ) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                with self._counters.lock:
                    self._counters.delivered += 1
                self._last_success = time.monotonic()
                if self._broker_down_logged:
                    self._broker_down_logged = False
                    log.warning("broker takes events again", extra={"topic": topic})
            else:
                with self._counters.lock:
                    self._counters.failed += 1
                self._last_failure = time.monotonic()
                self._to_spool(SpooledRecord(topic, key, value), err.str())
            if self._hook is not None:
                self._hook(event_id, err)

        return on_delivery

    def _pending(self, datum: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(PENDING_HEADER + self._schema_mark)
        fastavro.schemaless_writer(buf, self._schema, datum)
        return buf.getvalue()

    def _resolve(self, record: SpooledRecord) -> SpooledRecord:
        """``record`` with its real wire-format header (``RegistryUnavailableError`` while the
        registry still does not answer; ``_Unsendable`` when it can never be sent)."""
        if not record.value.startswith(PENDING_HEADER):
            return record
        body = record.value[len(PENDING_HEADER) :]
        if body.startswith(PENDING_SCHEMA_MARK):
            mark = body[: len(self._schema_mark)]
            if mark != self._schema_mark:
                raise _Unsendable("written by an SDK with another version of the event schema")
            body = body[len(mark) :]
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(body), self._schema, self._schema)
        except Exception as exc:  # fastavro raises many kinds on bytes that are not its format
            raise _Unsendable(f"its body does not decode ({type(exc).__name__})") from None
        if not isinstance(datum, dict):
            raise _Unsendable("its body is not an event")
        return SpooledRecord(record.topic, record.key, self._serde.serialize(datum, record.topic))

    def _to_spool(self, record: SpooledRecord, reason: str) -> None:
        self._spool.append(record)
        with self._counters.lock:
            self._counters.spooled += 1
        if not self._broker_down_logged:
            self._broker_down_logged = True
            log.warning(
                "events are being spooled to disk",
                extra={"reason": reason, "spool": str(self._spool.dir), "topic": record.topic},
            )

    def _poll_loop(self) -> None:
        last_probe = time.monotonic()
        while not self._closed.is_set():
            self._producer.poll(0.1)
            probe = time.monotonic() - last_probe >= PROBE_INTERVAL_S
            if probe:
                last_probe = time.monotonic()
            self._try_replay(force_probe=probe)

    def _try_replay(self, *, force_probe: bool) -> None:
        """``_maybe_replay``, where a failure is logged and paced instead of raised: a replay
        that fails for good until someone acts (the registry refuses the schema, the spool
        directory is not writable) keeps every event on disk and is tried again after 2, 4, ...
        up to ``REPLAY_BACKOFF_MAX_S`` seconds, with one log line per failure until the tenth,
        then one in ten (was: a traceback every second, and ``flush``/``close`` raised)."""
        if time.monotonic() < self._replay_retry_at:
            return
        try:
            self._maybe_replay(force_probe=force_probe)
        except Exception as exc:
            self._replay_failures += 1
            wait = min(REPLAY_BACKOFF_MAX_S, 2.0 ** min(self._replay_failures, 6))
            self._replay_retry_at = time.monotonic() + wait
            if self._replay_failures <= 10 or self._replay_failures % 10 == 0:
                log.error(  # the traceback goes through the log formatter's scrubber
                    "spool replay failed; the spooled events stay on disk and are tried again",
                    exc_info=exc,
                    extra={
                        "error": type(exc).__name__,
                        "failures": self._replay_failures,
                        "retry_in_s": wait,
                        "spool": str(self._spool.dir),
                        "spool_pending": len(self._spool),
                    },
                )
        else:
            self._replay_failures = 0

    def _broker_reachable(self) -> bool:
        try:
            md = self._producer.list_topics(timeout=2.0)
        except KafkaException:
            return False
        return bool(md.brokers) and any(b.id >= 0 for b in md.brokers.values())

    def _maybe_replay(self, *, force_probe: bool = False) -> None:
        """Replay sealed spool segments once the broker takes records again."""
        if len(self._spool) == 0:
            return
        recovered = self._last_success > self._last_failure and self._last_success > 0
        if not recovered and not (force_probe and self._broker_reachable()):
            return
        if not self._replay_lock.acquire(blocking=False):
            return
        try:
            self._spool.seal()
            for segment in self._spool.segments():
                records, intact = self._spool.read_segment(segment)
                ready: list[SpooledRecord] = []
                refused: list[SpooledRecord] = []
                reasons: set[str] = set()
                try:  # every record of the segment gets its schema id before any is sent
                    pending = any(r.value.startswith(PENDING_HEADER) for r in records)
                    for rec in records:
                        try:
                            ready.append(self._resolve(rec))
                        except _Unsendable as exc:
                            refused.append(rec)
                            reasons.add(str(exc))
                    if pending:
                        self._registry_down = False
                except RegistryUnavailableError as exc:
                    self._replay_retry_at = time.monotonic() + PROBE_INTERVAL_S
                    log.warning(
                        "spooled events wait for the schema registry", extra={"error": str(exc)}
                    )
                    return
                if refused:
                    kept = self._spool.set_aside(segment, refused)
                    with self._counters.lock:
                        self._counters.refused += len(refused)
                    log.error(
                        "spooled events that can never be sent were set aside, not sent",
                        extra={
                            "records": len(refused),
                            "reasons": sorted(reasons),
                            "file": str(kept),
                        },
                    )
                for rec in ready:
                    # a failed re-delivery lands in a new segment via its delivery report
                    self._produce(rec.topic, rec.key, rec.value, None, block=True)
                with contextlib.suppress(KafkaException):
                    self._producer.flush(self.config.message_timeout_ms / 1000 + 5)
                self._spool.remove_segment(segment, len(records), intact=intact)
                with self._counters.lock:
                    self._counters.replayed += len(ready)
                log.info("spool segment replayed", extra={"records": len(ready)})
        finally:
            self._replay_lock.release()
