"""Break-glass: the break-glass principal's grants (``break_glass.grants`` of the ACL file) for a
bounded time, with who opened it and why.

- ``open_glass`` creates the grants and records the opening (who, why, until when) in the
  compacted topic ``audit.break-glass`` (key: the principal; only super users may touch it);
- ``close_glass`` deletes the grants and records the closing;
- ``expire`` closes it when its time is up; it also closes grants found without an open
  record (fail closed). Run it periodically (``auditpipe break-glass expire``, or ``watch``).

Kafka ACLs have no expiry of their own, so the bound is only as good as the expiry runner: the
grant outlives its TTL by at most the runner's interval, or for as long as no runner runs.
The CLI wraps each open and close in an ADMIN audit event (``break_glass.open`` /
``break_glass.close``), and the shipped rule ``admin.break_glass`` pages on every open.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import ConfigError, RetryableError
from pipeline.kafka import acls, clients
from pipeline.kafka.admin import TopicSpec
from pipeline.kafka.config import KafkaConnection

STATE_TOPIC = "audit.break-glass"
STATE_TOPIC_SPEC = TopicSpec(
    STATE_TOPIC,
    partitions=1,
    config={"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "0"},
)


class GlassState(BaseModel):
    """One opening of break-glass, and its closing once it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    principal: str
    opened_by: str
    reason: str = Field(min_length=1)
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    close_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def due(self, now: datetime) -> bool:
        return self.is_open and now >= self.expires_at


@dataclass(frozen=True)
class Glass:
    """Break-glass of one ACL file on one broker, driven through an admin client config."""

    acl_file: acls.AclFile
    conn: KafkaConnection  # a super user's (the admin's)

    @property
    def principal(self) -> str:
        return self.acl_file.break_glass.principal

    def _admin(self) -> AdminClient:
        return clients.admin(self.conn)

    def ensure_topic(self) -> None:
        admin = self._admin()  # referenced until the future is done (GC would destroy it)
        fut = admin.create_topics(
            [
                NewTopic(
                    STATE_TOPIC_SPEC.name,
                    num_partitions=STATE_TOPIC_SPEC.partitions,
                    replication_factor=STATE_TOPIC_SPEC.replication_factor,
                    config=dict(STATE_TOPIC_SPEC.config),
                )
            ]
        )[STATE_TOPIC]
        try:
            fut.result(timeout=30)
        except KafkaException as exc:
            err = exc.args[0]
            if not (isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise RetryableError(f"could not create {STATE_TOPIC}: {err}") from exc

    def state(self, timeout: float = 30.0) -> GlassState | None:
        """The last record of the principal (None: never opened)."""
        consumer = clients.consumer(
            self.conn,
            f"break-glass-reader-{uuid.uuid4().hex[:8]}",
            {"enable.auto.commit": False, "enable.partition.eof": True},
        )
        try:
            tp = TopicPartition(STATE_TOPIC, 0)
            _low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            if high <= 0:
                return None
            consumer.assign([TopicPartition(STATE_TOPIC, 0, 0)])
            last: GlassState | None = None
            while True:
                msg = consumer.poll(timeout)
                if msg is None:
                    raise RetryableError(f"{STATE_TOPIC}: no record within {timeout}s")
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        return last
                    raise RetryableError(f"{STATE_TOPIC}: {err}")
                if msg.key() == self.principal.encode():
                    value = msg.value()
                    last = None if value is None else GlassState.model_validate_json(value)
                if (msg.offset() or 0) + 1 >= high:
                    return last
        finally:
            consumer.close()

    def _record(self, state: GlassState) -> None:
        producer = clients.producer(self.conn, {"acks": "all", "enable.idempotence": True})
        errors: list[KafkaError] = []
        producer.produce(
            STATE_TOPIC,
            key=self.principal.encode(),
            value=json.dumps(state.model_dump(mode="json"), sort_keys=True).encode(),
            on_delivery=lambda err, _m: errors.append(err) if err is not None else None,
        )
        if producer.flush(30) or errors:
            raise RetryableError(f"could not record break-glass state: {errors or 'timeout'}")

    def open_glass(self, *, actor: str, reason: str, ttl: timedelta, now: datetime) -> GlassState:
        if not reason.strip():
            raise ConfigError("break-glass needs a reason")
        max_ttl = timedelta(seconds=self.acl_file.break_glass.max_ttl_s)
        if ttl <= timedelta(0) or ttl > max_ttl:
            raise ConfigError(f"break-glass TTL must be > 0 and at most {max_ttl}")
        self.ensure_topic()
        state = GlassState(
            principal=self.principal,
            opened_by=actor,
            reason=reason.strip(),
            opened_at=now,
            expires_at=now + ttl,
        )
        # the record first: if granting fails, expire() still finds something to close
        self._record(state)
        grants = sorted(acls.break_glass_entries(self.acl_file))
        admin = self._admin()
        acls.create(admin, grants)
        acls.wait_until(admin, present=grants)  # open means the broker enforces it
        return state

    def granted(self) -> set[acls.Entry]:
        """The break-glass principal's ACLs on the broker now."""
        return {e for e in acls.current_acls(self._admin()) if e.principal == self.principal}

    def close_glass(self, *, actor: str, reason: str, now: datetime) -> GlassState | None:
        """Delete the grants (every ACL of the principal) and record the closing."""
        present = self.granted()
        admin = self._admin()
        acls.delete(admin, present)
        acls.wait_until(admin, absent=present)  # closed means the broker refuses again
        self.ensure_topic()
        state = self.state()
        if state is None or not state.is_open:
            if not present:
                return None
            state = GlassState(
                principal=self.principal,
                opened_by="unknown",
                reason="grants found without an open record",
                opened_at=now,
                expires_at=now,
            )
        closed = state.model_copy(
            update={"closed_at": now, "closed_by": actor, "close_reason": reason}
        )
        self._record(closed)
        return closed

    def expire(
        self, *, now: datetime, actor: str = "auditpipe-break-glass-expiry"
    ) -> GlassState | None:
        """Close when due, or when grants exist without an open record; else nothing."""
        self.ensure_topic()
        state = self.state()
        if state is not None and state.due(now):
            return self.close_glass(actor=actor, reason="expired", now=now)
        if (state is None or not state.is_open) and self.granted():
            return self.close_glass(actor=actor, reason="grants without an open record", now=now)
        return None


def now_utc() -> datetime:
    return datetime.now(UTC)
