from __future__ import annotations

import io
import logging

import orjson
import pytest

from pipeline import logging as plog


def _record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("auditpipe.test", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    rec.__dict__.update(extra)
    return rec


def test_json_line_in_utc_with_context() -> None:
    token_r = plog.request_id_var.set("req-1")
    token_t = plog.trace_id_var.set("4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        line = plog.JsonFormatter().format(_record(topic="audit.events"))
    finally:
        plog.request_id_var.reset(token_r)
        plog.trace_id_var.reset(token_t)
    doc = orjson.loads(line)
    assert doc["msg"] == "hello x"
    assert doc["level"] == "info"
    assert doc["ts"].endswith("Z")
    assert doc["request_id"] == "req-1"
    assert doc["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert doc["topic"] == "audit.events"


def test_payload_extras_never_reach_the_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(plog.JsonFormatter())
    handler.addFilter(plog.PayloadFilter())
    logger = logging.getLogger("auditpipe.test.payload")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("bad input", extra={"payload": "alice@example.com", "raw": b"secret"})
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "alice@example.com" not in out
    assert "secret" not in out
    assert orjson.loads(out)["payload"] == "[withheld]"


def test_configure_is_idempotent() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        plog.configure("INFO", io.StringIO())
        plog.configure("DEBUG", io.StringIO())
        ours = [h for h in root.handlers if isinstance(h.formatter, plog.JsonFormatter)]
        assert len(ours) == 1
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _failing_request() -> None:
    body = '{"email": "alice.martin@example.com", "card": "4111 1111 1111 1111", "qty": 2}'
    raise ValueError(f"cannot parse request body: {body}")


def test_a_traceback_carrying_a_request_body_is_logged_scrubbed() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(plog.JsonFormatter())
    logger = logging.getLogger("auditpipe.test.traceback")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            _failing_request()
        except ValueError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    doc = orjson.loads(stream.getvalue())
    assert "alice.martin@example.com" not in doc["exc"]
    assert "4111 1111 1111 1111" not in doc["exc"]
    assert "[email]" in doc["exc"]
    assert "[card:…1111]" in doc["exc"]
    assert "_failing_request" in doc["exc"]  # the traceback itself stays useful
    assert "ValueError: cannot parse request body" in doc["exc"]
    assert "body =" not in doc["exc"]  # no frame locals, only the source line that raised


def test_the_traceback_is_withheld_when_no_scrubber_can_be_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pipeline.scrub.text

    def broken() -> None:
        raise RuntimeError("the policy cannot be read")

    monkeypatch.setattr(pipeline.scrub.text, "TextScrubber", broken)
    scrubber = plog.ExceptionScrubber()
    try:
        _failing_request()
    except ValueError as exc:
        text = scrubber((type(exc), exc, exc.__traceback__))
    assert text == "ValueError: [traceback withheld: scrubber unavailable]"
