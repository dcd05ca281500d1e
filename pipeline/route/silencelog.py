"""Silences in a compacted Kafka topic: one record per silence, keyed by its id.

A record's value is the silence's stable JSON (:meth:`Silence.to_json`); a new record for the
same id replaces it (expiring a silence writes it again with ``ends_at`` = now, so it stays
listable until ``auditpipe silence prune`` writes its tombstone); a tombstone deletes it. Every
router instance tails the whole topic (no consumer group), so all of them see every silence.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import orjson

from pipeline.errors import ConfigError, RetryableError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topicio import read_to_end
from pipeline.route.silences import Silence, Silences


def new_silence_id() -> str:
    return f"sil-{secrets.token_hex(8)}"


def apply_records(silences: Silences, records: Iterable[tuple[bytes, bytes | None]]) -> int:
    """Apply topic records in order; returns how many were applied (bad ones are skipped)."""
    n = 0
    for key, value in records:
        if value is None:
            silences.delete(key.decode("utf-8", "replace"))
            n += 1
            continue
        try:
            silences.put(Silence.from_json(orjson.loads(value)))
        except (ValueError, orjson.JSONDecodeError):
            continue
        n += 1
    return n


def load_silences(conn: KafkaConnection, topic: str) -> Silences:
    silences = Silences()
    apply_records(silences, read_to_end(conn, topic))
    return silences


def _producer(conn: KafkaConnection) -> clients.Producer:
    return clients.producer(conn, {"enable.idempotence": True, "acks": "all"})


def _write(conn: KafkaConnection, topic: str, key: str, value: bytes | None) -> None:
    _write_all(conn, topic, [(key, value)])


def _write_all(conn: KafkaConnection, topic: str, records: list[tuple[str, bytes | None]]) -> None:
    """Produce the records and wait until the broker acknowledged every one."""
    producer = _producer(conn)
    errors: list[str] = []

    def done(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value, on_delivery=done)
    if producer.flush(30) or errors:
        raise RetryableError(f"silences were not written to {topic}: {errors[:3] or 'timeout'}")


def put_silence(conn: KafkaConnection, topic: str, silence: Silence) -> None:
    """Write (create or replace) a silence; returns once the broker acknowledged it."""
    _write(conn, topic, silence.key, orjson.dumps(silence.to_json()))


def expire_silence(conn: KafkaConnection, topic: str, silence_id: str, now: datetime) -> Silence:
    """End a silence now. A silence that has not started yet is deleted (tombstone)."""
    current = load_silences(conn, topic).get(silence_id)
    if current is None:
        raise ConfigError(f"no silence with id {silence_id!r} in {topic}")
    if current.expired(now):
        return current
    if current.starts_at >= now:
        _write(conn, topic, silence_id, None)
        return current
    ended = current.model_copy(update={"ends_at": now})
    put_silence(conn, topic, ended)
    return ended


def prune_silences(
    conn: KafkaConnection, topic: str, keep: timedelta, now: datetime, *, dry_run: bool = False
) -> list[Silence]:
    """Delete (tombstone) the silences that ended more than ``keep`` ago, so that compaction
    can drop them; returns them. Active and pending silences are never touched."""
    cutoff = now - keep
    old = sorted(
        (s for s in load_silences(conn, topic).all() if s.ends_at <= cutoff),
        key=lambda s: (s.ends_at, s.id),
    )
    if old and not dry_run:
        _write_all(conn, topic, [(s.key, None) for s in old])
    return old
