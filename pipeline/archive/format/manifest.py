"""Manifests (one per batch) and checkpoints (one per period and topic): models and canonical bytes.

Both are JSON objects serialized canonically (keys sorted, no whitespace, UTF-8, via orjson) and
signed with Ed25519 over exactly the stored bytes; the detached 64-byte signature is stored next
to them (``….manifest.sig``, ``….sig``; see ``layout``). Their SHA-256 over the same bytes is what
the next manifest (``prev_manifest_sha256``) and checkpoints name, forming the hash chains.
Timestamps are RFC 3339 UTC strings with microseconds, as in the events' JSON form.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

GENESIS = "0" * 64
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Ts = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")]
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
Offset = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    def canonical(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


class Manifest(_Model):
    """What one batch holds and how to check it."""

    version: Literal[1] = 1
    kind: Literal["batch"] = "batch"
    topic: str
    partition: Offset
    first_offset: Offset
    last_offset: Offset
    count: Annotated[int, Field(ge=1)]
    first_ts: Ts  # ``ts`` of the event at first_offset
    last_ts: Ts  # ``ts`` of the event at last_offset
    min_ts: Ts  # producers' clocks differ: the batch's earliest and latest ``ts``
    max_ts: Ts
    object_key: str
    object_sha256: Hex64
    object_size: Offset
    codec: str
    merkle_root: Hex64
    prev_manifest_sha256: Hex64  # GENESIS for a partition's first batch
    schema_id: int | None  # Confluent schema id of every record; None for offline imports
    schema_sha256: Hex64  # SHA-256 of the writer schema's Parsing Canonical Form
    key_id: KeyId
    algorithm: Literal["Ed25519"] = "Ed25519"
    created: Ts
    # retention (rules/retention.yaml): the longest class of the batch's events, and the
    # COMPLIANCE retain-until of the object, its manifest and signature; None before retention
    retention_class: str | None = None
    retain_until: Ts | None = None


class CheckpointEntry(_Model):
    manifest_key: str
    manifest_sha256: Hex64
    last_offset: Offset


class Witness(_Model):
    """Another region's latest checkpoint, as seen when this one was written."""

    region: str
    checkpoint_key: str | None = None
    checkpoint_sha256: Hex64


class Checkpoint(_Model):
    """Every partition's latest manifest at ``created``, chained to the previous checkpoint.

    Written periodically even when no events arrived, so a deleted tail of batches shows up as a
    checkpoint naming a manifest that is gone. The streaming archiver also signs its heartbeat
    interval (``heartbeat_s``, the longest wait between two checkpoints while it runs): deleting
    the last batches *and* the last checkpoints then shows too, as a latest checkpoint older than
    the wall clock allows (``verify --max-age``). Offline imports carry none (the key is then
    left out of the canonical bytes, which stay as before the field existed).
    """

    version: Literal[1] = 1
    kind: Literal["checkpoint"] = "checkpoint"
    topic: str
    seq: Offset
    created: Ts
    prev_checkpoint_key: str | None  # None for the first checkpoint (seq 0)
    prev_checkpoint_sha256: Hex64  # GENESIS for the first
    partitions: dict[str, CheckpointEntry]  # partition number (as a JSON key) -> its head
    witness: Witness | None = None
    key_id: KeyId
    algorithm: Literal["Ed25519"] = "Ed25519"
    retain_until: Ts | None = None  # COMPLIANCE retain-until of the checkpoint and signature
    heartbeat_s: Annotated[float, Field(gt=0)] | None = None

    def canonical(self) -> bytes:
        data = self.model_dump(mode="json")
        if data["heartbeat_s"] is None:
            del data["heartbeat_s"]
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
