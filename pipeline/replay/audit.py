"""Every read of the logs is itself an audit event: ``audit_read`` is the one function every
read command (``replay kafka``, ``replay archive``, ``trace``, ``consume``, ``verify``,
``prove``, DLQ decryption with ``consume --decrypt``) calls before it reads.

The event (category ``DATA_ACCESS``, action ``logs.read``, service ``auditpipe-reader``) goes
through the SDK to ``audit.raw.auditpipe-reader``, so it is scrubbed, enriched and archived like
every other event, and spooled on disk if the broker is down. It names who read (the OS
account), the command, the source, the window, the field paths filtered on and the reason
given — never a filter's values, and for a subject lookup only that one was made, never the
identifier or its pseudonym. It also names the Kafka principal the command runs as
(``User:<SASL user>`` from its client config, ``User:ANONYMOUS`` on a plaintext listener),
and it is sent as that principal: a reader needs write on ``audit.raw.auditpipe-reader``
(``deploy/kafka/acls.yaml``), and nothing else.
"""

from __future__ import annotations

import logging
import os
import pwd
from dataclasses import dataclass, field

from confluent_kafka import KafkaError

from pipeline.errors import ConfigError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.produce.own import own_audit_producer
from pipeline.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "auditpipe-reader"
#: delivery errors that no retry overcomes: the reader's principal may not record its read
REFUSALS = frozenset(
    {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
)
CATEGORY = "DATA_ACCESS"
ACTION = "logs.read"


def operator() -> str:
    """The OS account running the command (from the password database, not the environment)."""
    return pwd.getpwuid(os.getuid()).pw_name


@dataclass(frozen=True)
class ReadAudit:
    """What a read command is about to read; the fields of its audit event."""

    command: str  # "replay kafka", "replay archive", "trace", "consume", "verify", "prove"
    source: str  # topic or archive URL
    window: str
    filter_fields: tuple[str, ...] = ()
    reason: str = ""
    subject_lookup: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def details(self) -> dict[str, str]:
        out = {
            "command": self.command,
            "source": self.source,
            "window": self.window,
            "filter_fields": ",".join(self.filter_fields),
            "reason": self.reason,
            "subject_lookup": "true" if self.subject_lookup else "",
            **self.extra,
        }
        return {k: v for k, v in out.items() if v}


def kafka_principal(conn: KafkaConnection) -> str:
    """The principal the broker sees for ``conn``."""
    if conn.uses_sasl and conn.sasl_username:
        return f"User:{conn.sasl_username}"
    return "User:ANONYMOUS"


def require_reason(reason: str, what: str) -> str:
    """``reason`` stripped; a ``ConfigError`` when it is empty (``what`` says which read needs
    one)."""
    text = reason.strip()
    if not text:
        raise ConfigError(f"{what} needs --reason (it is recorded in the audit trail)")
    return text


def audit_read(settings: Settings, read: ReadAudit, *, actor: str | None = None) -> str:
    """Emit the audit event of ``read`` and wait for it to be acknowledged (or spooled, when the
    broker is down); returns its ``event_id``. A ``ConfigError`` when the broker refuses it (the
    principal may not write the audit topic) or the registry did not answer (the event waits in
    the spool): the caller must not read."""
    conn = clients.connection(settings, SERVICE)
    refused: list[str] = []

    def on_delivery(_event_id: str | None, err: KafkaError | None) -> None:
        if err is not None and err.code() in REFUSALS:
            refused.append(err.name())

    with own_audit_producer(settings, conn, SERVICE, on_delivery=on_delivery) as producer:
        topic = producer.config.default_topic
        event_id = producer.emit(
            category=CATEGORY,
            action=ACTION,
            outcome="SUCCESS",
            actor={"id": actor or operator(), "type": "user"},
            target={"type": "audit-log", "id": read.source},
            details={**read.details(), "kafka_principal": kafka_principal(conn)},
        )
        producer.flush(30)
        pending = producer.stats().schema_pending
    if pending:
        raise ConfigError(
            "the schema registry did not answer, so the read's audit event is only spooled; "
            "not reading: start the registry (auditpipe stack up) and try again"
        )
    if refused:  # fail closed: a read that cannot be recorded does not happen
        raise ConfigError(
            f"the broker refused the read's audit event ({refused[0]}): "
            f"{kafka_principal(conn)} may not write {topic}; not reading"
        )
    return event_id
