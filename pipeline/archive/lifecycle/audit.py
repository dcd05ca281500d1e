"""LIFECYCLE audit events of the archive's own actions (legal hold, purge, retention changes).

They go through the SDK (``AuditProducer``) to the raw topic ``audit.raw.auditpipe-archive``
(created if missing), so they are scrubbed, enriched and archived like every other event. The
producer never loses one: if the broker is down the event waits in the on-disk spool.
"""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pipeline.archive.lifecycle.regions import AuditSink
from pipeline.kafka import clients
from pipeline.produce.own import own_audit_producer
from pipeline.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "auditpipe-archive"
CATEGORY = "LIFECYCLE"


def operator() -> str:
    """The OS account running the command (from the password database, not the environment)."""
    return pwd.getpwuid(os.getuid()).pw_name


@contextmanager
def lifecycle_audit(
    settings: Settings, actor: str, *, topic: str | None = None
) -> Iterator[AuditSink]:
    """An ``AuditSink`` emitting LIFECYCLE events as ``actor``; flushed when the block ends."""
    conn = clients.connection(settings, SERVICE)
    with own_audit_producer(settings, conn, SERVICE, topic=topic) as producer:

        def emit(action: str, outcome: str, details: Mapping[str, str]) -> None:
            producer.emit(
                category=CATEGORY,
                action=action,
                outcome=outcome,
                actor={"id": actor, "type": "user"},
                target={"type": "archive", "id": details.get("region", "") or "archive"},
                details={k: v for k, v in details.items() if v != ""},
            )

        yield emit
