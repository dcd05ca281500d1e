"""Dead letters: the envelope for input a stage could not handle, with its raw bytes encrypted.

The DLQ is the one place raw input may sit (DESIGN.md, promise 2), and even there it is
encrypted: ``raw`` holds ``nonce || AES-256-GCM(raw)`` under a DLQ key named by ``raw_key_id``,
with the source coordinates as associated data (a ciphertext moved to another record does not
decrypt). ``reason`` comes from our exceptions, which name the field and the rule, never the
value.

Every dead letter carries a reason code, a closed vocabulary (:class:`Reason`), in
``headers["reason_code"]``: what an operator filters and alerts on, and what the tests assert.
A reason text starts with its code (``"oversize_event: 70000 bytes, the limit is 65536"``);
an error raised without one gets the code of its type (:func:`reason_code`).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipeline.errors import ConfigError, DeserializationError, InvalidEventError, MessageError

_NONCE = 12
REASON_HEADER = "reason_code"


class Reason(StrEnum):
    """Why a record was dead-lettered (README, "Dead letters")."""

    OVERSIZE_EVENT = "oversize_event"  # the raw value is longer than the event limit
    NO_SCHEMA_ID = "no_schema_id"  # not Confluent framing: empty, too short, bad magic byte
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"  # the registry has no schema with that id
    WRONG_SUBJECT = "wrong_subject"  # the writer schema is another record (or no record)
    TOO_DEEP = "too_deep"  # the writer schema nests deeper than any event can
    MISSING_FIELD = "missing_field"  # a required field is absent or empty
    WRONG_TYPE = "wrong_type"  # a field's writer type does not resolve to the event's
    UNDECODABLE = "undecodable"  # the Avro body does not decode (truncated, trailing bytes)
    INVALID_UTF8 = "invalid_utf8"  # a string is not UTF-8
    NUL_BYTE = "nul_byte"  # a string holds U+0000
    OVERSIZE_FIELD = "oversize_field"  # a string is longer than the field limit
    TOO_MANY_ENTRIES = "too_many_entries"  # a map or a list has more entries than the limit
    TS_FUTURE = "ts_future"  # ts later than now plus the allowed lead
    TS_PAST = "ts_past"  # ts earlier than now minus the allowed age
    NO_KEY = "no_key"  # the raw record has no key (raw topics are keyed by actor)
    INVALID_EVENT = "invalid_event"  # any other validation failure
    PROCESSING_FAILED = "processing_failed"  # enrich, scrub or encode failed


_CODES = frozenset(r.value for r in Reason)
_BY_TYPE = {DeserializationError: Reason.UNDECODABLE, InvalidEventError: Reason.INVALID_EVENT}


def reason_code(error: MessageError) -> Reason:
    """The code a reason text starts with, else the default of the error's type."""
    head = error.reason.split(":", 1)[0]
    if head in _CODES:
        return Reason(head)
    for kind, code in _BY_TYPE.items():
        if isinstance(error, kind):
            return code
    return Reason.PROCESSING_FAILED


@dataclass(frozen=True)
class DlqKey:
    """An AES-256-GCM key for dead-letter payloads."""

    key_id: str
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ConfigError(
                f"DLQ key {self.key_id!r} must be 32 bytes (AES-256), got {len(self.key)}"
            )

    def __repr__(self) -> str:
        return f"DlqKey(key_id={self.key_id!r}, key=<withheld>)"


def _aad(topic: str | None, partition: int | None, offset: int | None) -> bytes:
    part = "" if partition is None else str(partition)
    off = "" if offset is None else str(offset)
    return f"{topic or ''}|{part}|{off}".encode()


def encrypt_raw(
    key: DlqKey, raw: bytes, topic: str | None, partition: int | None, offset: int | None
) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key.key).encrypt(nonce, raw, _aad(topic, partition, offset))


def decrypt_raw(keys: dict[str, DlqKey], envelope: dict[str, Any]) -> bytes:
    """The original bytes of a dead letter (for restricted tooling only)."""
    key_id = envelope.get("raw_key_id")
    raw: bytes = envelope["raw"]
    if key_id is None:
        return raw
    if key_id not in keys:
        raise ConfigError(f"no DLQ key with id {key_id!r}")
    aad = _aad(
        envelope.get("source_topic"),
        envelope.get("source_partition"),
        envelope.get("source_offset"),
    )
    return AESGCM(keys[key_id].key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)


def dead_letter(
    error: MessageError,
    *,
    stage: str,
    key: DlqKey,
    message_key: bytes | None = None,
    source_timestamp: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The DeadLetter datum (schemas/dlq_envelope.avsc) for a per-message error; its reason
    code in ``headers["reason_code"]``."""
    raw = error.raw if error.raw is not None else b""
    return {
        "dlq_id": str(uuid.uuid4()),
        "ts": datetime.now(UTC),
        "stage": stage,
        "error_type": type(error).__name__,
        "reason": error.reason,
        "source_topic": error.topic,
        "source_partition": error.partition,
        "source_offset": error.offset,
        "source_timestamp": source_timestamp,
        "key": None
        if message_key is None
        else encrypt_raw(key, message_key, error.topic, error.partition, error.offset),
        "raw": encrypt_raw(key, raw, error.topic, error.partition, error.offset),
        "raw_key_id": key.key_id,
        "headers": {**(headers or {}), REASON_HEADER: reason_code(error).value},
    }
