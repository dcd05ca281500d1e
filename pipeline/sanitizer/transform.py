"""The sanitizer's transform of one decoded event, shared by the streaming stage
(``SanitizerProcessor``) and the offline ``auditpipe sanitize`` command, so the two cannot
drift: enrich first (geo needs the raw IP), then scrub (which truncates the IP)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

Transform = Callable[[dict[str, Any]], dict[str, Any]]
Enrich = Callable[..., dict[str, Any]]


def sanitize(
    datum: dict[str, Any], *, enrich: Enrich, scrub: Transform, received: datetime | None = None
) -> dict[str, Any]:
    """Enrich on the raw values, then scrub; the input datum is not modified."""
    return scrub(enrich(datum, received=received))
