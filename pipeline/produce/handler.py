"""``AuditLogHandler``: turn log records that carry audit fields into audit events.

    log.info("user logged in", extra={"audit": {"category": "AUTHN", "action": "login",
             "actor": {"id": user.id, "type": "user"}}})

Records without an ``audit`` mapping are ignored, so the handler can sit on the root logger.
The log message goes to ``details["message"]``; a record with an exception also gets
``details["exception"]``: the standard traceback (never frame locals), scrubbed by the
policy's detectors (``pipeline.logging.ExceptionScrubber``), and the SDK scrubs the whole
event again before sending. The handler never raises into the caller: an invalid audit record
is reported as one warning naming the error (scrubbed), never the record's content.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from pipeline.logging import ExceptionScrubber
from pipeline.produce.producer import AuditProducer

_EMIT_ARGS = frozenset(
    {
        "category",
        "action",
        "outcome",
        "actor",
        "target",
        "authz",
        "http",
        "data",
        "details",
        "ts",
        "event_id",
        "request_id",
        "trace_id",
        "span_id",
        "topic",
    }
)


class AuditLogHandler(logging.Handler):
    def __init__(
        self,
        producer: AuditProducer,
        level: int = logging.INFO,
        exceptions: ExceptionScrubber | None = None,
    ) -> None:
        super().__init__(level)
        self.producer = producer
        self._exceptions = exceptions or ExceptionScrubber()

    def emit(self, record: logging.LogRecord) -> None:
        audit = getattr(record, "audit", None)
        if not isinstance(audit, Mapping):
            return
        try:
            fields: dict[str, Any] = {k: v for k, v in audit.items() if k in _EMIT_ARGS}
            unknown = sorted(set(audit) - _EMIT_ARGS)
            if unknown:
                raise ValueError(f"unknown audit field(s): {', '.join(unknown)}")
            details = dict(fields.pop("details", None) or {})
            details.setdefault("message", record.getMessage())
            if record.exc_info and record.exc_info[0] is not None:
                details.setdefault("exception", self._exceptions(record.exc_info))
            self.producer.emit(**fields, details=details)
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """Report the failure without the record (its message or args may be personal data)."""
        exc = sys.exc_info()[1]
        error = self._exceptions.text(f"{type(exc).__name__}: {exc}")
        logging.getLogger(__name__).warning(
            "audit log record not emitted",
            extra={"error": error or type(exc).__name__, "logger_name": record.name},
        )
