"""Dead letters: raw bytes encrypted, bound to their source, reason without the value."""

from __future__ import annotations

import io
import os

import fastavro
import pytest
from cryptography.exceptions import InvalidTag

from pipeline.errors import ConfigError, InvalidEventError
from pipeline.events.dlq import DlqKey, dead_letter, decrypt_raw
from pipeline.events.schemas import DLQ_ENVELOPE, raw_schema

KEY = DlqKey("dlq-k1", os.urandom(32))
RAW = b'{"actor": {"id": "alice@example.com"}, "password": "hunter2"}'


def _letter() -> dict[str, object]:
    err = InvalidEventError(
        "category: is required", topic="audit.raw.x", partition=1, offset=7, raw=RAW
    )
    return dead_letter(err, stage="sanitizer", key=KEY, message_key=b"alice@example.com")


def test_raw_and_key_are_encrypted_and_decrypt_back() -> None:
    letter = _letter()
    assert b"alice" not in letter["raw"]  # type: ignore[operator]
    assert b"alice" not in letter["key"]  # type: ignore[operator]
    assert letter["raw_key_id"] == "dlq-k1"
    assert letter["reason"] == "category: is required"
    assert letter["source_offset"] == 7
    assert decrypt_raw({"dlq-k1": KEY}, letter) == RAW


def test_envelope_matches_the_schema_and_leaks_nothing_when_encoded() -> None:
    letter = _letter()
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(raw_schema(DLQ_ENVELOPE)), letter)
    encoded = buf.getvalue()
    assert b"alice" not in encoded
    assert b"hunter2" not in encoded


def test_ciphertext_moved_to_another_record_does_not_decrypt() -> None:
    letter = _letter()
    moved = {**letter, "source_offset": 8}
    with pytest.raises(InvalidTag):
        decrypt_raw({"dlq-k1": KEY}, moved)


def test_unknown_key_and_bad_key_length_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no DLQ key"):
        decrypt_raw({}, _letter())
    with pytest.raises(ConfigError, match="32 bytes"):
        DlqKey("short", b"x" * 16)
    assert "withheld" in repr(KEY)
    assert KEY.key.hex() not in repr(KEY)


def test_the_reason_code_rides_in_the_headers() -> None:
    from pipeline.errors import DeserializationError, ProcessingError
    from pipeline.events.dlq import REASON_HEADER, reason_code

    assert _letter()["headers"] == {REASON_HEADER: "invalid_event"}  # no code in the text
    coded = InvalidEventError("ts_past: ts is more than 1 s behind", raw=b"x")
    assert dead_letter(coded, stage="s", key=KEY)["headers"][REASON_HEADER] == "ts_past"
    assert reason_code(DeserializationError("garbage")) == "undecodable"
    assert reason_code(ProcessingError("boom: x")) == "processing_failed"
