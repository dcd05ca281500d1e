"""The router in simulated time: alerts replayed in order with ``now`` taken from each alert's
``ts``. Serves ``auditpipe route --dry-run`` and the demo; nothing is delivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pipeline.route.engine import Router
from pipeline.route.grouping import Notification
from pipeline.route.times import from_us, text_us

#: after the last alert, time runs on for at most this many flushes (every group resolves)
MAX_DRAIN_STEPS = 100_000


def simulate(router: Router, alerts: Iterator[dict[str, Any]]) -> Iterator[Notification]:
    """Replay ``alerts`` in order with ``now`` = each alert's ``ts`` (never going back)."""
    now: datetime | None = None
    for alert in alerts:
        ts = from_us(text_us(alert["ts"]))
        now = ts if now is None or ts > now else now
        while (nxt := router.next_due()) is not None and nxt < now:
            yield from router.due(nxt)
        yield from router.due(now)
        router.ingest(alert, now)
    for _ in range(MAX_DRAIN_STEPS):
        nxt = router.next_due()
        if nxt is None:
            return
        yield from router.due(nxt)
