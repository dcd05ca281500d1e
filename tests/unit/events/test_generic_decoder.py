"""``GenericAvroDecoder`` (consume, replay, the alerts archiver): a record whose schema id the
registry does not have is a record to report, not a failed command; a registry that does not
answer is the retryable ``RegistryUnavailableError``."""

from __future__ import annotations

import uuid

import pytest

from pipeline.errors import DeserializationError, RegistryUnavailableError
from pipeline.events.serde import GenericAvroDecoder, registry_client


def test_unknown_schema_id_is_a_deserialization_error() -> None:
    decoder = GenericAvroDecoder(registry_client(f"mock://{uuid.uuid4().hex}"))
    value = b"\x00\x00\x00\x00\x03" + b"\x02"
    with pytest.raises(DeserializationError) as info:
        decoder.decode(value)
    assert info.value.reason.startswith("unknown_schema_id")
    assert "3" in info.value.reason


def test_unreachable_registry_is_retryable() -> None:
    decoder = GenericAvroDecoder(registry_client("http://127.0.0.1:1"))
    with pytest.raises(RegistryUnavailableError):
        decoder.decode(b"\x00\x00\x00\x00\x03\x02")
