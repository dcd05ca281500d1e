"""``trace``: one flow's events across services as a timeline.

The flow is every event with the given ``trace_id`` (or ``request_id``). The lookup narrows the
replay with the id's bytes before anything is decoded: a Kafka record or an archived batch that
does not hold them is skipped unread (ids are stored verbatim in the Avro bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.events.jsonform import parse_ts
from pipeline.replay.filters import Filter, field_equals

DEFAULT_GAP_MS = 1000.0


def narrow(flt: Filter, trace_id: str | None, request_id: str | None) -> Filter:
    """``flt`` restricted to one flow."""
    if (trace_id is None) == (request_id is None):
        raise ValueError("give exactly one of trace_id and request_id")
    path, value = ("trace_id", trace_id) if trace_id is not None else ("request_id", request_id)
    assert value is not None
    return flt.narrowed(field_equals(path, value), needles=(value.encode(),))


@dataclass(frozen=True, slots=True)
class Hop:
    """One event of the flow, and the time since the previous one."""

    at: datetime
    since_start_ms: float
    gap_ms: float  # since the previous event (0 for the first)
    is_gap: bool  # gap_ms above the threshold, or a change of service after a long wait
    service: str
    category: str
    action: str
    outcome: str
    event_id: str
    span_id: str | None
    doc: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "since_start_ms": round(self.since_start_ms, 3),
            "gap_ms": round(self.gap_ms, 3),
            "gap": self.is_gap,
            "event": self.doc,
        }


def timeline(events: list[dict[str, Any]], gap_ms: float = DEFAULT_GAP_MS) -> list[Hop]:
    """The flow's events in time order (ties keep the order they were read in)."""
    dated = sorted(
        ((parse_ts(e["ts"], "ts"), i, e) for i, e in enumerate(events)), key=lambda t: t[:2]
    )
    hops: list[Hop] = []
    for at, _i, e in dated:
        start = dated[0][0]
        prev = hops[-1].at if hops else at
        gap = (at - prev).total_seconds() * 1000
        hops.append(
            Hop(
                at,
                (at - start).total_seconds() * 1000,
                gap,
                gap > gap_ms,
                str(e.get("service", "?")),
                str(e.get("category", "?")),
                str(e.get("action", "?")),
                str(e.get("outcome", "?")),
                str(e.get("event_id", "?")),
                e.get("span_id"),
                e,
            )
        )
    return hops


def services(hops: list[Hop]) -> list[str]:
    """The services of the flow, in the order they first appear."""
    return list(dict.fromkeys(h.service for h in hops))
