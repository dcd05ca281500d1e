"""Silences in a compacted Kafka topic: one record per silence, keyed by its id.

A record's value is the silence's stable JSON (:meth:`Silence.to_json`); a new record for the
same id replaces it (expiring a silence writes it again with ``ends_at`` = now, so it stays
listable until ``auditpipe silence prune`` writes its tombstone); a tombstone deletes it. Every
router instance tails the whole topic (no consumer group), so all of them see every silence.

The topic is compacted and pruned, so it is no record of who muted what: every change is also
an ADMIN audit event (:func:`audit_silence`: ``silence.create``, ``silence.expire``,
``silence.prune``) sent through the SDK to ``audit.raw.auditpipe-silences``, scrubbed and
archived like every other event.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Literal

import orjson

from pipeline.errors import ConfigError, RetryableError
from pipeline.events.jsonform import format_ts
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topicio import read_to_end
from pipeline.produce.own import own_audit_producer
from pipeline.route.silences import Silence, Silences
from pipeline.settings import Settings

log = logging.getLogger(__name__)

AUDIT_SERVICE = "auditpipe-silences"
Expiry = Literal["ended", "deleted", "already expired"]


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


def expire_silence(
    conn: KafkaConnection, topic: str, silence_id: str, now: datetime
) -> tuple[Silence, Expiry]:
    """End a silence now. A silence that has not started yet is deleted (tombstone). Returns
    the silence as it is now and what was done."""
    current = load_silences(conn, topic).get(silence_id)
    if current is None:
        raise ConfigError(f"no silence with id {silence_id!r} in {topic}")
    if current.expired(now):
        return current, "already expired"
    if current.starts_at >= now:
        _write(conn, topic, silence_id, None)
        return current, "deleted"
    ended = current.model_copy(update={"ends_at": now})
    put_silence(conn, topic, ended)
    return ended, "ended"


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


def silence_details(silence: Silence) -> dict[str, str]:
    """A silence as the details of its audit event (matchers in the routing file's syntax)."""
    return {
        "silence_id": silence.id,
        "matchers": " AND ".join(m.text() for m in silence.matchers),
        "starts_at": format_ts(silence.starts_at),
        "ends_at": format_ts(silence.ends_at),
        "created_by": silence.created_by,
        "comment": silence.comment,
    }


def audit_silence(
    settings: Settings, action: str, target: str, details: Mapping[str, str], *, actor: str
) -> str:
    """Emit the ADMIN audit event of a silence change (``action``: ``silence.create``,
    ``silence.expire``, ``silence.prune``) as ``actor``, after the change was acknowledged;
    returns its ``event_id``. A broker that is down gets it later from the on-disk spool."""
    conn = clients.connection(settings, AUDIT_SERVICE)
    principal = f"User:{conn.sasl_username}" if conn.uses_sasl and conn.sasl_username else ""
    with own_audit_producer(settings, conn, AUDIT_SERVICE) as producer:
        return producer.emit(
            category="ADMIN",
            action=action,
            actor={"id": actor, "type": "user"},
            target={"type": "silence", "id": target},
            details={
                **{k: v for k, v in details.items() if v},
                "silences_topic": settings.topics.silences,
                **({"kafka_principal": principal} if principal else {}),
            },
        )
