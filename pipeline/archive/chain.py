"""The hash chains' heads: each partition's latest manifest and the topic's latest checkpoint.

Each manifest names the SHA-256 of the previous manifest of its partition (``GENESIS`` for the
first), and each checkpoint names the previous checkpoint; ``ChainState`` is what a writer needs
to extend both. ``recover`` rebuilds it from the store after a restart, and finishes a write that
a crash interrupted between a manifest (or checkpoint) and its signature: Ed25519 signatures are
deterministic, so signing the stored bytes again gives the signature that was about to be written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from pipeline.archive import layout
from pipeline.archive.keys import Signer
from pipeline.archive.manifest import GENESIS, Checkpoint, Manifest
from pipeline.archive.store import Store, sha256_hex
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Head:
    """The latest link of a chain."""

    key: str
    sha256: str
    last_offset: int = -1  # partitions only


@dataclass
class ChainState:
    topic: str
    partitions: dict[int, Head] = field(default_factory=dict)
    checkpoint: Head | None = None
    checkpoint_seq: int = -1

    def prev_manifest_sha256(self, partition: int) -> str:
        head = self.partitions.get(partition)
        return head.sha256 if head else GENESIS

    def last_offset(self, partition: int) -> int:
        head = self.partitions.get(partition)
        return head.last_offset if head else -1


class RecoveryError(PipelineError):
    """The archive's own state cannot be read back (run ``auditpipe verify`` on it)."""


def _resign(store: Store, signer: Signer | None, key: str, sig_key: str, data: bytes) -> None:
    if store.exists(sig_key):
        return
    if signer is None:
        raise RecoveryError(f"{key} has no signature {sig_key} and no signing key was given")
    sig = signer.sign(data)
    store.put_if_absent(sig_key, sig, sha256_hex(sig))
    log.warning("completed an interrupted write: signed %s", key)


def recover(store: Store, topic: str, signer: Signer | None = None) -> ChainState:
    """Read the heads of ``topic``'s chains back from ``store``."""
    state = ChainState(layout.check_topic(topic))
    for key in store.list(f"{layout.EVENTS}{topic}/"):
        if not key.endswith(layout.MANIFEST_SUFFIX):
            continue
        data = store.get(key)
        try:
            manifest = Manifest.model_validate_json(data)
        except ValidationError as exc:
            raise RecoveryError(f"{key}: unreadable manifest: {exc}") from None
        head = state.partitions.get(manifest.partition)
        if head is None or manifest.last_offset > head.last_offset:
            state.partitions[manifest.partition] = Head(key, sha256_hex(data), manifest.last_offset)
        obj = layout.object_key_of_manifest(key)
        _resign(store, signer, key, layout.manifest_sig_key(obj), data)
    last: tuple[int, str, bytes] | None = None
    for key in store.list(f"{layout.CHECKPOINTS}{topic}/"):
        parsed = layout.parse_checkpoint_key(key)
        if parsed is None or (last is not None and parsed.seq <= last[0]):
            continue
        last = (parsed.seq, key, b"")
    if last is not None:
        seq, key, _ = last
        data = store.get(key)
        try:
            Checkpoint.model_validate_json(data)
        except ValidationError as exc:
            raise RecoveryError(f"{key}: unreadable checkpoint: {exc}") from None
        _resign(store, signer, key, layout.checkpoint_sig_key(key), data)
        state.checkpoint = Head(key, sha256_hex(data))
        state.checkpoint_seq = seq
    return state
