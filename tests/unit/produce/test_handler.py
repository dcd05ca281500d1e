"""AuditLogHandler maps log records with audit fields to emit() calls (pure logic)."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest

from pipeline.errors import InvalidEventError
from pipeline.produce.handler import AuditLogHandler
from pipeline.produce.producer import AuditProducer


class RecordingProducer:
    """Stands in for AuditProducer: records emit() calls, refuses a missing category."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def emit(self, **kwargs: Any) -> str:
        if not kwargs.get("category"):
            raise InvalidEventError("category: is required")
        self.calls.append(kwargs)
        return "id"


@pytest.fixture
def logger() -> tuple[logging.Logger, RecordingProducer]:
    producer = RecordingProducer()
    log = logging.getLogger("test.audit.handler")
    log.handlers[:] = [AuditLogHandler(cast(AuditProducer, producer))]
    log.propagate = False
    log.setLevel(logging.DEBUG)
    return log, producer


def test_records_with_audit_fields_become_events(
    logger: tuple[logging.Logger, RecordingProducer],
) -> None:
    log, producer = logger
    log.info("plain line")  # ignored
    log.info(
        "user %s logged in",
        "u1",
        extra={
            "audit": {
                "category": "AUTHN",
                "action": "login",
                "actor": {"id": "u1", "type": "user"},
                "details": {"method": "sso"},
            }
        },
    )
    assert producer.calls == [
        {
            "category": "AUTHN",
            "action": "login",
            "actor": {"id": "u1", "type": "user"},
            "details": {"method": "sso", "message": "user u1 logged in"},
        }
    ]


def test_debug_records_are_below_the_default_level(
    logger: tuple[logging.Logger, RecordingProducer],
) -> None:
    log, producer = logger
    log.debug("x", extra={"audit": {"category": "AUTHN", "action": "login"}})
    assert producer.calls == []


def test_bad_audit_record_never_raises_nor_echoes(
    logger: tuple[logging.Logger, RecordingProducer], caplog: pytest.LogCaptureFixture
) -> None:
    log, producer = logger
    with caplog.at_level(logging.WARNING, logger="pipeline.produce.handler"):
        log.info("secret alice@example.com", extra={"audit": {"action": "login"}})
        log.info("x", extra={"audit": {"category": "AUTHN", "colour": "red"}})
    assert producer.calls == []
    warnings = [r for r in caplog.records if r.name == "pipeline.produce.handler"]
    assert len(warnings) == 2
    assert "category: is required" in warnings[0].__dict__["error"]
    assert "unknown audit field(s): colour" in warnings[1].__dict__["error"]
    assert all("alice@example.com" not in str(r.__dict__) for r in warnings)


def test_an_exception_goes_to_details_scrubbed(
    logger: tuple[logging.Logger, RecordingProducer],
) -> None:
    log, producer = logger
    try:
        raise RuntimeError("payment failed for bob@example.com, card 4111 1111 1111 1111")
    except RuntimeError:
        log.exception(
            "payment failed",
            extra={"audit": {"category": "DATA", "action": "pay", "actor": {"id": "u1"}}},
        )
    [call] = producer.calls
    exception = call["details"]["exception"]
    assert "bob@example.com" not in exception
    assert "4111 1111 1111 1111" not in exception
    assert "RuntimeError: payment failed for [email], card [card:…1111]" in exception
    assert "Traceback (most recent call last)" in exception
