"""The sanitizer's transform of one decoded event, shared by the streaming stage
(``SanitizerProcessor``) and the offline ``auditpipe sanitize`` command, so the two cannot
drift: enrich first (geo needs the raw IP), then scrub (which truncates the IP).

The ``pipeline`` block is the sanitizer's output, never its input: whatever a raw event
carries there (a producer's bug, or someone smuggling text past the scrubber into fields the
policy keeps verbatim, like ``pipeline.enrichment.*``) is dropped before enrichment."""

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
    if datum.get("pipeline") is not None:
        datum = {**datum, "pipeline": None}
    return scrub(enrich(datum, received=received))
