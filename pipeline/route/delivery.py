"""The audit event of a delivery attempt: every notification sent is itself audited.

One ``INTEGRATION`` / ``webhook.delivery`` event (JSON form of ``schemas/audit_event.avsc``)
per attempt, outcome ``SUCCESS`` or ``FAILURE``. It names the receiver, the attempt, the HTTP
status and the latency; it never carries a secret, a signature, a header or the URL (a Slack
webhook URL is itself a credential): this function takes none of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pipeline.events.jsonform import format_ts
from pipeline.route.grouping import Notification

_NS = uuid.UUID("0b6a3f43-54a2-4c61-9f0e-6a3cf1d9b2e7")
ROUTER_SERVICE = "auditpipe-router"


def delivery_event(
    note: Notification,
    *,
    receiver_type: str,
    attempt: int,
    ts: datetime,
    status_code: int | None,
    latency_ms: float,
    success: bool,
    environment: str,
    error: str | None = None,
    next_retry_s: float | None = None,
    attempt_id: str | None = None,
) -> dict[str, Any]:
    """The audit event (JSON form) of attempt ``attempt`` (1-based) to deliver ``note``.

    ``error`` should be a short class of failure (``timeout``, ``ConnectError``), not a
    response body, which may echo what was sent. ``attempt_id`` tells apart attempts that
    share a number (one per ticket of a notification, or a re-delivery after a restart)."""
    details = {
        "receiver": note.receiver,
        "receiver_type": receiver_type,
        "attempt": str(attempt),
        "status_code": "" if status_code is None else str(status_code),
        "latency_ms": f"{latency_ms:.1f}",
        "notification_id": note.id,
        "notification_status": note.status,
        "group_key": note.group_key,
        "dedup_key": note.dedup_key,
        "alert_count": str(note.alert_count),
    }
    if error:
        details["error"] = error[:200]
    if next_retry_s is not None:
        details["next_retry_s"] = f"{next_retry_s:.3f}"
    suffix = f"#{attempt_id}" if attempt_id else ""
    return {
        "event_id": str(uuid.uuid5(_NS, f"{note.id}#{note.receiver}#{attempt}{suffix}")),
        "ts": format_ts(ts),
        "service": ROUTER_SERVICE,
        "environment": environment,
        "category": "INTEGRATION",
        "action": "webhook.delivery",
        "outcome": "SUCCESS" if success else "FAILURE",
        "actor": {"id": ROUTER_SERVICE, "type": "service"},
        "target": {"type": "receiver", "id": note.receiver},
        "request_id": note.id,
        "details": details,
    }
