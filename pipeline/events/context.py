"""Request and trace context: contextvars, and W3C ``traceparent`` parsing and formatting.

The SDK fills ``request_id``/``trace_id``/``span_id`` of every event from here, and the JSON
logger adds them to every log line. Context variables follow asyncio tasks and are copied into
threads started with ``contextvars.copy_context().run``.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

request_id_var: ContextVar[str | None] = ContextVar("auditpipe_request_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("auditpipe_trace_id", default=None)
span_id_var: ContextVar[str | None] = ContextVar("auditpipe_span_id", default=None)

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


@dataclass(frozen=True)
class TraceParent:
    """A W3C Trace Context ``traceparent`` (version 00)."""

    trace_id: str
    span_id: str
    flags: int = 1

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)


def parse_traceparent(header: str | None) -> TraceParent | None:
    """Parse a ``traceparent`` header; an invalid one is ignored (``None``), as the spec says."""
    if not header:
        return None
    m = _TRACEPARENT.match(header.strip().lower())
    if not m:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceParent(trace_id, span_id, int(flags, 16))


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def new_request_id() -> str:
    return str(uuid.uuid4())


def current_traceparent() -> str | None:
    """The ``traceparent`` to send downstream from the current context, if any."""
    trace_id, span_id = trace_id_var.get(), span_id_var.get()
    if trace_id is None:
        return None
    return TraceParent(trace_id, span_id or new_span_id()).header()


@contextlib.contextmanager
def audit_context(
    *,
    request_id: str | None = None,
    traceparent: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
) -> Iterator[None]:
    """Set the request/trace context for the block (e.g. a web request handler).

    ``traceparent`` (an incoming header) wins over explicit ids; a missing request id is
    inherited from an outer context or generated.
    """
    parsed = parse_traceparent(traceparent)
    if parsed is not None:
        trace_id, span_id = parsed.trace_id, parsed.span_id
    tokens = [
        request_id_var.set(request_id or request_id_var.get() or new_request_id()),
        trace_id_var.set(trace_id or trace_id_var.get()),
        span_id_var.set(span_id or span_id_var.get()),
    ]
    try:
        yield
    finally:
        span_id_var.reset(tokens[2])
        trace_id_var.reset(tokens[1])
        request_id_var.reset(tokens[0])
