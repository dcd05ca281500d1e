"""Replay a window of a topic from Kafka.

Every partition is read from the first offset whose record timestamp is at or after
``from - skew`` (``offsets_for_times``) up to a stop offset fixed at start: the first offset at
or after ``to + skew`` when the window has an end, else the end offset (high watermark) taken at
start — so a replay of a busy topic ends. An event is emitted when its own ``ts`` is in the
window and it passes the filter. ``skew`` is how far a record's Kafka timestamp (set when it
was produced) may differ from the event's ``ts``: events spooled or delayed for longer than
that around the window's edges are not seen; a larger ``skew`` reads more.

Memory stays bounded: records are assigned, not subscribed (no group state, nothing
committed), the client's prefetch queue is capped, and each event is written out before the
next is read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from pipeline.errors import ConfigError, DeserializationError, RetryableError
from pipeline.events.serde import GenericAvroDecoder, registry_client
from pipeline.kafka import clients
from pipeline.replay.convert import record_converter
from pipeline.replay.filters import Filter
from pipeline.replay.output import Origin, Progress, Sink, Stats
from pipeline.replay.window import Window
from pipeline.settings import Settings

DEFAULT_SKEW = timedelta(minutes=5)
PREFETCH_KBYTES = 16 * 1024  # librdkafka's queued.max.messages.kbytes (default 64 MiB)
PROGRESS_EVERY = 2000
_TIMEOUT_S = 15.0


def _consumer(settings: Settings, group: str) -> Consumer:
    """The one consumer of this package, from the client layer (security settings included)."""
    return clients.consumer(
        clients.connection(settings, "auditpipe-replay"),
        group,
        {
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "queued.max.messages.kbytes": PREFETCH_KBYTES,
        },
    )


@dataclass(frozen=True, slots=True)
class PartitionRange:
    partition: int
    start: int  # first offset to read
    stop: int  # offsets >= stop are not read

    @property
    def size(self) -> int:
        return max(0, self.stop - self.start)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def plan(consumer: Consumer, topic: str, window: Window, skew: timedelta) -> list[PartitionRange]:
    """Each partition's offsets to read, fixed now."""
    md = consumer.list_topics(topic, timeout=_TIMEOUT_S)
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None:
        reason = meta.error.str() if meta is not None and meta.error is not None else "unknown"
        raise ConfigError(f"topic {topic!r}: {reason}")
    parts = sorted(meta.partitions)
    try:
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, _ms(window.start - skew)) for p in parts], timeout=_TIMEOUT_S
        )
        stops: list[TopicPartition] | None = None
        if window.end is not None:
            stops = consumer.offsets_for_times(
                [TopicPartition(topic, p, _ms(window.end + skew)) for p in parts],
                timeout=_TIMEOUT_S,
            )
        highs = [
            consumer.get_watermark_offsets(TopicPartition(topic, p), _TIMEOUT_S) for p in parts
        ]
    except Exception as exc:  # KafkaException: the broker did not answer
        raise RetryableError(f"cannot read the offsets of {topic}: {exc}") from exc
    out: list[PartitionRange] = []
    for i, p in enumerate(parts):
        _low, high = highs[i]
        start = starts[i].offset if starts[i].offset >= 0 else high
        stop = high
        if stops is not None and 0 <= stops[i].offset < high:
            stop = stops[i].offset
        out.append(PartitionRange(p, start, max(start, stop)))
    return out


def replay_kafka(
    settings: Settings,
    topic: str,
    window: Window,
    flt: Filter,
    sink: Sink,
    *,
    skew: timedelta = DEFAULT_SKEW,
    progress: Progress | None = None,
    resume: Mapping[int, int] | None = None,
) -> Stats:
    """Emit the events of ``topic`` in ``window`` that pass ``flt`` to ``sink``, in order within
    each partition; ``resume`` maps partitions to the first offset still to read."""
    stats = Stats()
    decoder = GenericAvroDecoder(registry_client(settings.registry_url))
    converters: dict[int, Callable[[Any], dict[str, Any]]] = {}  # by the decoder's schema
    consumer = _consumer(settings, f"auditpipe-replay-{uuid.uuid4()}")
    try:
        ranges = plan(consumer, topic, window, skew)
        if resume:  # a resumed copy: each partition continues after what was already copied
            ranges = [
                PartitionRange(r.partition, max(r.start, resume.get(r.partition, 0)), r.stop)
                for r in ranges
            ]
        stats.total = sum(r.size for r in ranges)
        todo = {r.partition: r for r in ranges if r.size > 0}
        if todo:
            consumer.assign([TopicPartition(topic, r.partition, r.start) for r in todo.values()])
        while todo:
            for msg in consumer.consume(500, 1.0):
                p = msg.partition()
                r = todo.get(p) if p is not None else None
                if p is None or r is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        _finish(consumer, topic, todo, p)  # stop was the end offset; reached
                        continue
                    raise RetryableError(f"reading {topic}[{p}]: {err.str()}")
                offset = msg.offset() or 0
                if offset >= r.stop:
                    _finish(consumer, topic, todo, p)
                    continue
                stats.scanned += 1
                _emit(decoder, msg, window, flt, sink, stats, converters)
                if offset + 1 >= r.stop:
                    _finish(consumer, topic, todo, p)
                if progress is not None and stats.scanned % PROGRESS_EVERY == 0:
                    progress(stats)
    finally:
        consumer.close()
        sink.close()
    if progress is not None:
        progress(stats)
    return stats


def _finish(consumer: Consumer, topic: str, todo: dict[int, PartitionRange], p: int) -> None:
    if todo.pop(p, None) is not None:
        consumer.pause([TopicPartition(topic, p)])


def _emit(
    decoder: GenericAvroDecoder,
    msg: Message,
    window: Window,
    flt: Filter,
    sink: Sink,
    stats: Stats,
    converters: dict[int, Callable[[Any], dict[str, Any]]],
) -> None:
    value = msg.value()
    if value is None or not flt.may_match(value):
        return
    try:
        schema, datum = decoder.decode(value)
    except DeserializationError:
        stats.undecodable += 1
        return
    ts: Any = datum.get("ts") if isinstance(datum, dict) else None
    if not isinstance(ts, datetime) or not window.contains(ts):
        return
    convert = converters.get(id(schema))
    if convert is None:
        convert = converters[id(schema)] = record_converter(schema)
    doc = convert(datum)
    if flt(doc):
        origin = Origin(
            msg.topic() or "",
            msg.partition() or 0,
            msg.offset() or 0,
            value,
            msg.key(),
            _headers(msg),
        )
        sink.write(flt.transform(doc) if flt.transform is not None else doc, origin)
        stats.matched += 1


def _headers(msg: Message) -> list[tuple[str, str | bytes | None]] | None:
    headers = msg.headers()
    if headers is None or isinstance(headers, list):
        return headers
    return list(headers.items())
