"""``--to-topic``: copy a replayed window into another topic, resumable without duplicates.

Each record is copied as it was read — same key, value bytes and headers (from the archive:
the value in the wire format with the batch's schema id; keys and headers are not archived,
so there are none) — into the target
partition with the source's number (the target needs at least as many partitions), plus one
header, ``auditpipe-replay-origin: <topic>:<partition>:<offset>``. The producer is idempotent
with one request in flight per connection, so per partition the target holds a prefix of the
copy in source order. Resuming is therefore exact: before a copy starts, the last record of
each target partition is read, and its origin header says which source offset the copy of
that partition continues after (``resume_points``). An interrupted copy run again with the same
arguments writes each remaining record once, and nothing twice.

A pipeline input topic (a raw topic, the events topic, the alerts topics) is refused as a target
unless forced: replayed events would be processed, alerted on and archived a second time.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from confluent_kafka import KafkaException, Producer, TopicPartition

from pipeline.errors import ConfigError, RetryableError
from pipeline.kafka import clients
from pipeline.replay.kafka_source import _consumer
from pipeline.replay.output import Origin
from pipeline.settings import Settings

ORIGIN_HEADER = "auditpipe-replay-origin"
_TIMEOUT_S = 15.0


def check_target(settings: Settings, source: str, target: str, *, force: bool) -> None:
    """Refuse copying a topic into itself, or into a pipeline input unless ``force``."""
    if target == source:
        raise ConfigError("--to-topic is the topic being replayed")
    t = settings.topics
    inputs = {t.events, t.alerts, t.router_in}
    if not force and (target in inputs or re.match(t.raw_pattern, target)):
        raise ConfigError(
            f"--to-topic {target} is a pipeline input: replayed events would be processed "
            "again (alerts, archive); add --force-input-topic if that is what you want"
        )


def _producer(settings: Settings) -> Producer:
    """The one producer of this package, from the client layer (security settings included)."""
    return clients.producer(
        clients.connection(settings, "auditpipe-replay-copy"),
        {
            "enable.idempotence": True,
            "acks": "all",
            "max.in.flight.requests.per.connection": 1,
            "linger.ms": 20,
            "compression.type": "zstd",
        },
    )


def _origin(headers: object) -> tuple[str, int, int] | None:
    items = (
        headers.items()
        if isinstance(headers, dict)
        else headers
        if isinstance(headers, list)
        else []
    )
    for name, value in items:
        if name == ORIGIN_HEADER and isinstance(value, bytes | str):
            text = value.decode() if isinstance(value, bytes) else value
            topic, partition, offset = text.rsplit(":", 2)
            return topic, int(partition), int(offset)
    return None


def resume_points(settings: Settings, source: str, target: str) -> dict[int, int]:
    """Per source partition, the first offset not yet copied into ``target`` (read from the
    origin header of each target partition's last record); empty for a fresh target."""
    consumer = _consumer(settings, f"auditpipe-replay-resume-{uuid.uuid4()}")
    out: dict[int, int] = {}
    try:
        meta = consumer.list_topics(target, timeout=_TIMEOUT_S).topics.get(target)
        if meta is None or meta.error is not None:
            return out
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(target, p), _TIMEOUT_S)
            if high <= low:
                continue
            consumer.assign([TopicPartition(target, p, high - 1)])
            msg = None
            for _ in range(int(_TIMEOUT_S / 0.5)):
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None:
                    break
            if msg is None or msg.error() is not None:
                raise RetryableError(f"cannot read the last record of {target}[{p}]")
            origin = _origin(msg.headers())
            if origin is None or origin[0] != source:
                raise ConfigError(
                    f"--to-topic {target}[{p}] holds records that are not a copy of {source}; "
                    "choose an empty topic or the target of an earlier copy of the same topic"
                )
            out[origin[1]] = max(out.get(origin[1], 0), origin[2] + 1)
    except KafkaException as exc:
        raise RetryableError(f"cannot read {target}: {exc}") from exc
    finally:
        consumer.close()
    return out


class TopicSink:
    """Writes each replayed record, as read, to ``target`` (see the module docstring)."""

    def __init__(self, settings: Settings, target: str) -> None:
        self.target = target
        self._producer = _producer(settings)
        self._errors: list[str] = []
        meta = self._producer.list_topics(target, timeout=_TIMEOUT_S).topics.get(target)
        if meta is None or meta.error is not None:
            raise ConfigError(f"--to-topic {target}: no such topic (create it first)")
        self._partitions = len(meta.partitions)
        self.written = 0

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        if origin is None:  # an archive batch without a schema id (an offline import)
            raise ConfigError(
                "--to-topic: these events have no schema id (offline import); cannot copy them"
            )
        if origin.partition >= self._partitions:
            raise ConfigError(
                f"--to-topic {self.target} has {self._partitions} partitions; the source has "
                f"partition {origin.partition}"
            )
        headers: list[tuple[str, str | bytes | None]] = [
            *(origin.headers or []),
            (ORIGIN_HEADER, f"{origin.topic}:{origin.partition}:{origin.offset}".encode()),
        ]
        while True:
            try:
                self._producer.produce(
                    self.target,
                    value=origin.value,
                    key=origin.key,
                    headers=headers,
                    partition=origin.partition,
                    on_delivery=self._delivered,
                )
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)
        self.written += 1

    def close(self) -> None:
        left = self._producer.flush(60)
        if left or self._errors:
            raise RetryableError(
                f"--to-topic {self.target}: {left} records undelivered, "
                f"{len(self._errors)} failed ({self._errors[:1]}); run the same command again "
                "to resume"
            )
