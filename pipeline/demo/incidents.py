"""The attacks the demo injects: each one a shipped detection rule must catch."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pipeline.events import jsonform

#: how long the decrypt spike lasts (400 calls, 4 a second)
KMS_SPAN = timedelta(seconds=100)


def incidents(actor_prefix: str, start: datetime) -> list[dict[str, Any]]:
    """A handful of attacks the shipped rules must catch."""

    def ev(actor: str, ts: datetime, **over: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "ts": jsonform.format_ts(ts),
            "service": "auth-service",
            "environment": "demo",
            "category": "AUTHN",
            "action": "login",
            "outcome": "SUCCESS",
            "actor": {"id": actor, "type": "user", "country": "DE", "ip": "81.2.69.160"},
            "request_id": str(uuid.uuid4()),
        }
        doc.update(over)
        return doc

    bf, probe, kms = (f"{actor_prefix}.{n}@example.com" for n in ("bf", "probe", "kms"))
    out = [ev(bf, start + timedelta(seconds=i), outcome="FAILURE") for i in range(15)]
    out.append(ev(bf, start + timedelta(seconds=20)))
    out += [
        ev(
            probe,
            start + timedelta(seconds=i),
            category="AUTHZ",
            action="access.check",
            outcome="DENIED",
            authz={"decision": "DENY", "permission": "billing.read"},
            service="billing-api",
        )
        for i in range(40)
    ]
    # crypto.decrypt_spike counts in tumbling clock hours against the actor's earlier hours:
    # 400 decrypts split over two hours (say 160 + 240) alert in neither (the second is under
    # 5x the first), as a CI run found. The spike stays within one hour: moved back (at most
    # 100 s, inside the detector's lateness) when it would cross the next hour.
    kms_start = start
    hour_end = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if start + KMS_SPAN > hour_end:
        kms_start = hour_end - KMS_SPAN
    out += [
        ev(
            kms,
            kms_start + timedelta(seconds=i / 4),
            category="DATA_ACCESS",
            action="key.decrypt",
            service="kms-proxy",
        )
        for i in range(400)
    ]
    out.append(
        ev(
            f"{actor_prefix}.admin@example.com",
            start + timedelta(seconds=30),
            category="ADMIN",
            action="role.grant",
            service="admin-console",
            target={"type": "user", "id": "usr_000007"},
            authz={"decision": "ALLOW", "role": "admin"},
        )
    )
    return out
