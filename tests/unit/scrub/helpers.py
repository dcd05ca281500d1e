"""Shared helpers for the scrub tests: a minimal event datum, keys, the shipped policy."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from typing import Any

from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.scrub import Scrubber, ScrubKeys, ScrubPolicy, load_policy

SCHEMA = parsed_schema(AUDIT_EVENT)
# random-looking: key files with constant bytes are refused (issue 16)
KEYS = ScrubKeys({"k1": hashlib.sha256(b"k1").digest(), "k2": hashlib.sha256(b"k2").digest()}, "k1")


@functools.cache
def shipped_policy() -> ScrubPolicy:
    return load_policy()


@functools.cache
def scrubber(engine: str | None = None) -> Scrubber:
    return Scrubber(shipped_policy(), KEYS, engine=engine)


def event(**over: Any) -> dict[str, Any]:
    """A valid datum; keyword arguments replace top-level JSON fields."""
    doc: dict[str, Any] = {
        "event_id": "0b9f3f8e-4f7e-4a8e-9a51-1d1c6f0c2f11",
        "ts": "2026-11-01T10:00:00.123456Z",
        "service": "billing-api",
        "environment": "prod",
        "category": "AUTHN",
        "action": "login",
        "outcome": "SUCCESS",
        "actor": {"id": "u-42", "type": "user"},
        "request_id": "req-1",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
    }
    doc.update(over)
    return jsonform.from_json(SCHEMA, doc)


def strings(value: Any) -> Iterator[str]:
    """Every string inside a datum (keys of maps too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
