"""One raw record in, one scrubbed event (or one dead letter) out. No Kafka here: the same
processor runs in the streaming stage (pipeline.kafka.stage.BatchStage) and in tests.

Order: size check → decode (the writer schema judged once per id) → checks of the datum
(``guard``: strings, maps, required ids, ``ts``, key) → drop a repeated event id (``dedup``) →
enrich (needs the raw IP) → scrub → encode → clock-skew watch (``skew``: may add a SYSTEM alert
to the outputs, so it is acknowledged before the input offset is committed, like the event).
Any failure of one record becomes a dead letter with a reason code, the reason and the raw
bytes encrypted; nothing raises out of ``process`` for a bad record, so a malformed message
never stops the worker, and nothing unscrubbed is ever written to the events topic. The one
exception is a schema registry that does not answer (``RegistryUnavailableError``, a
``RetryableError``): the record is fine, so it raises, and the stage
(``pipeline.kafka.stage.BatchStage``) retries the record with backoff before anything of its
batch is produced or committed.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fastavro
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Message

from pipeline.errors import (
    InvalidEventError,
    MessageError,
    ProcessingError,
    RetryableError,
)
from pipeline.events.dlq import DlqKey, dead_letter, reason_code
from pipeline.events.schemas import raw_schema
from pipeline.events.serde import AvroSerde
from pipeline.kafka.stage import Output
from pipeline.sanitizer.dedup import RecentIds
from pipeline.sanitizer.guard import Guard
from pipeline.sanitizer.metrics import SanitizerMetrics
from pipeline.sanitizer.skew import SkewWatch
from pipeline.sanitizer.transform import Enrich, Transform, sanitize
from pipeline.settings import SanitizerConfig

__all__ = ["FastEncoder", "SanitizerCounters", "SanitizerProcessor", "Transform"]

log = logging.getLogger(__name__)


@dataclass
class SanitizerCounters:
    events_in: int = 0
    events_out: int = 0
    duplicates: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)  # by error type
    reasons: dict[str, int] = field(default_factory=dict)  # by reason code


class FastEncoder:
    """``AvroSerde.serialize`` for the one schema and topic the stage writes, minus the
    registry serializer's per-call work (subject lookup, rule checks; ~10 % of a record's
    time, measured in benchmarks/scrub.py): the first call goes through the serde
    (registering the schema and learning its id), later ones write the same Confluent
    framing — magic byte, schema id, Avro body — with fastavro directly."""

    def __init__(self, serde: AvroSerde, topic: str) -> None:
        self._serde = serde
        self._topic = topic
        self._schema = fastavro.parse_schema(raw_schema(serde.schema_name))
        self._prefix: bytes | None = None

    def __call__(self, datum: dict[str, Any]) -> bytes:
        if self._prefix is None:
            out = self._serde.serialize(datum, self._topic)
            self._prefix = out[:5]
            return out
        buf = io.BytesIO()
        buf.write(self._prefix)
        fastavro.schemaless_writer(buf, self._schema, datum)
        return buf.getvalue()


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SkewSink:
    """Where clock-skew alerts go: the watch, the alerts topic and its serde."""

    watch: SkewWatch
    serde: AvroSerde
    topic: str


class SanitizerProcessor:
    def __init__(
        self,
        *,
        events_serde: AvroSerde,
        dlq_serde: AvroSerde,
        enrich: Enrich,
        scrub: Transform,
        dlq_key: DlqKey,
        events_topic: str,
        dlq_topic: str,
        metrics: SanitizerMetrics | None = None,
        config: SanitizerConfig | None = None,
        skew: SkewSink | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.events_serde = events_serde
        self.dlq_serde = dlq_serde
        self.enrich = enrich
        self.scrub = scrub
        self.dlq_key = dlq_key
        self.events_topic = events_topic
        self.dlq_topic = dlq_topic
        self.counters = SanitizerCounters()
        self.metrics = metrics
        self.config = config or SanitizerConfig()
        self.guard = Guard(self.config)
        self.recent = RecentIds(self.config.dedup_window)
        self.skew = skew
        self.clock = clock
        self._encode = FastEncoder(events_serde, events_topic)
        self._redactions: dict[tuple[str, str], Any] = {}  # labelled counters, looked up once

    def process(self, msg: Message) -> Sequence[Output]:
        topic = msg.topic() or ""
        partition, offset = msg.partition(), msg.offset()
        raw = msg.value() or b""
        self.counters.events_in += 1
        if self.metrics is not None:
            self.metrics.events_in.inc()
        try:
            self.guard.check_size(raw)
            datum = self.events_serde.deserialize(raw, topic, partition=partition, offset=offset)
            now = self.clock()
            self.guard.check_event(datum, now, len(raw))
            if msg.key() is None:
                raise InvalidEventError("no_key: the record has no key (raw topics are keyed)")
            digest = self.recent.digest(str(datum["event_id"]))
            if self.recent.seen(topic, partition or 0, digest):
                self.counters.duplicates += 1
                if self.metrics is not None:
                    self.metrics.duplicates.inc()
                return []
            ts_type, ts_ms = msg.timestamp()
            received = datetime.fromtimestamp(ts_ms / 1000, UTC) if ts_type else None
            try:
                clean = sanitize(datum, enrich=self.enrich, scrub=self.scrub, received=received)
                value = self._encode(clean)
            except (MessageError, RetryableError):
                raise  # a registry outage (encoding registers the schema once) is retried
            except Exception as exc:
                # the exception text may quote the value: keep only its type
                raise ProcessingError(
                    f"processing_failed: {type(exc).__name__} while enriching/scrubbing/encoding",
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    raw=raw,
                ) from None
            self.recent.add(topic, partition or 0, digest)
            self.counters.events_out += 1
            if self.metrics is not None:
                self._observe(clean, received)
            out = [Output(self.events_topic, str(clean["actor"]["id"]).encode(), value)]
            if self.skew is not None:
                arrived = received if ts_type == TIMESTAMP_LOG_APPEND_TIME and received else now
                out.extend(self._skew(self.skew, clean, arrived))
            return out
        except MessageError as exc:
            return [self._dead_letter(exc, msg, topic, partition, offset, raw)]

    @staticmethod
    def _skew(sink: SkewSink, clean: dict[str, Any], arrived: datetime) -> list[Output]:
        alert = sink.watch.observe(clean, arrived)
        if alert is None:
            return []
        log.warning(
            "clock skew alert",
            extra={"rule_id": alert["rule_id"], "alert_id": alert["alert_id"]},
        )
        value = sink.serde.serialize(alert, sink.topic)
        return [Output(sink.topic, alert["dedup_key"].encode(), value)]

    def _observe(self, clean: dict[str, Any], received: datetime | None) -> None:
        assert self.metrics is not None
        self.metrics.events_out.inc()
        for remark in (clean.get("pipeline") or {}).get("scrub") or []:
            labels = (remark["kind"], remark["treatment"])
            child = self._redactions.get(labels)
            if child is None:
                child = self._redactions[labels] = self.metrics.redactions.labels(*labels)
            child.inc()
        if received is not None:
            self.metrics.latency.observe(max(0.0, (datetime.now(UTC) - received).total_seconds()))

    def _dead_letter(
        self,
        exc: MessageError,
        msg: Message,
        topic: str,
        partition: int | None,
        offset: int | None,
        raw: bytes,
    ) -> Output:
        if exc.raw is None or exc.topic is None:
            exc = type(exc)(exc.reason, topic=topic, partition=partition, offset=offset, raw=raw)
        kind, code = type(exc).__name__, reason_code(exc).value
        self.counters.dead_letters[kind] = self.counters.dead_letters.get(kind, 0) + 1
        self.counters.reasons[code] = self.counters.reasons.get(code, 0) + 1
        if self.metrics is not None:
            self.metrics.dead_letters.labels(kind, code).inc()
        log.warning(
            "record dead-lettered",
            extra={
                "reason": exc.reason,
                "reason_code": code,
                "topic": topic,
                "partition": partition,
                "offset": offset,
            },
        )
        ts_type, ts_ms = msg.timestamp()
        letter = dead_letter(
            exc,
            stage="sanitizer",
            key=self.dlq_key,
            message_key=msg.key(),
            source_timestamp=datetime.fromtimestamp(ts_ms / 1000, UTC) if ts_type else None,
        )
        return Output(self.dlq_topic, None, self.dlq_serde.serialize(letter, self.dlq_topic))
