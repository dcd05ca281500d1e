"""JSON-lines logging in UTC, configured once.

Every record is one JSON object with a UTC timestamp, level, logger, message, and the
``request_id``/``trace_id`` of the work at hand when set. A filter drops any ``extra`` field
named like a payload so that raw event content can never reach a log line by accident.

Exceptions are written as the standard traceback text (file, line, function and source line
of each frame, and the exception message: never frame locals), passed through the scrubber's
detectors first (``ExceptionScrubber``), so an exception message that quotes a request body
leaves no email, card number, token or other finding in the log. If the scrubber cannot be
built, the traceback is withheld (fail closed): only the exception type is written.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

import orjson

from pipeline.events.context import request_id_var, trace_id_var

__all__ = [
    "ExceptionScrubber",
    "JsonFormatter",
    "PayloadFilter",
    "configure",
    "request_id_var",
    "trace_id_var",
]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

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


class ExceptionScrubber:
    """Formats an exception as the standard traceback (no frame locals) and scrubs the text
    with the policy's detectors (``pipeline.scrub.text.TextScrubber``, built on first use so
    that logging alone does not compile the policy)."""

    def __init__(self, scrub_text: Callable[[str], str] | None = None) -> None:
        self._scrub = scrub_text
        self._broken = False

    def text(self, text: str) -> str | None:
        """``text`` scrubbed, or None when no scrubber could be built."""
        if self._scrub is None and not self._broken:
            try:
                from pipeline.scrub.text import TextScrubber  # lazy: compiling is heavy

                self._scrub = TextScrubber()
            except Exception:  # any failure: withhold rather than write raw text
                self._broken = True
        return None if self._scrub is None else self._scrub(text)

    def __call__(self, exc_info: ExcInfo) -> str:
        raw = logging.Formatter().formatException(exc_info)
        scrubbed = self.text(raw)
        if scrubbed is not None:
            return scrubbed
        name = exc_info[0].__name__ if exc_info[0] is not None else "exception"
        return f"{name}: [traceback withheld: scrubber unavailable]"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object with a UTC RFC 3339 timestamp."""

    def __init__(self, exceptions: ExceptionScrubber | None = None) -> None:
        super().__init__()
        self._exceptions = exceptions or ExceptionScrubber()

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
            doc["exc"] = self._exceptions(record.exc_info)
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
