"""Dead letters: the envelope for input a stage could not handle, with its raw bytes encrypted.

The DLQ is the one place raw input may sit (DESIGN.md, promise 2), and even there it is
encrypted: ``raw`` holds ``nonce || AES-256-GCM(raw)`` under a DLQ key named by ``raw_key_id``,
with the source coordinates as associated data (a ciphertext moved to another record does not
decrypt). ``reason`` comes from our exceptions, which name the field and the rule, never the
value.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipeline.errors import ConfigError, MessageError

_NONCE = 12


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
    """The DeadLetter datum (schemas/dlq_envelope.avsc) for a per-message error."""
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
        "headers": dict(headers or {}),
    }
