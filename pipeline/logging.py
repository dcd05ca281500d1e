"""JSON-lines logging in UTC, configured once.

Every record is one JSON object with a UTC timestamp, level, logger, message, and the
``request_id``/``trace_id`` of the work at hand when set. A filter drops any ``extra`` field
named like a payload so that raw event content can never reach a log line by accident.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from pipeline.events.context import request_id_var, trace_id_var

__all__ = ["JsonFormatter", "PayloadFilter", "configure", "request_id_var", "trace_id_var"]

#: ``extra`` keys that are never written: they would carry unscrubbed content.
FORBIDDEN_EXTRA_KEYS = frozenset({"payload", "event", "raw", "body", "value", "record", "data"})

_STD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}


class PayloadFilter(logging.Filter):
    """Removes payload-like ``extra`` attributes from a record (never lets a payload through)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in FORBIDDEN_EXTRA_KEYS:
            if key in record.__dict__:
                record.__dict__[key] = "[withheld]"
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object with a UTC RFC 3339 timestamp."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        tid = trace_id_var.get()
        if rid:
            doc["request_id"] = rid
        if tid:
            doc["trace_id"] = tid
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Configure root logging once; later calls only change the level."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PayloadFilter())
    root.handlers[:] = [handler]
