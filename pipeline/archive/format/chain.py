"""The hash chains' heads: each partition's latest manifest and the topic's latest checkpoint.

Each manifest names the SHA-256 of the previous manifest of its partition (``GENESIS`` for the
first), and each checkpoint names the previous checkpoint; ``ChainState`` is what a writer needs
to extend both.

``recover`` rebuilds it after a restart from the recent end of the archive only, never by
listing every batch: the writer ends every flush with a checkpoint naming every partition's
head, found with a handful of LIST requests (the newest ``dt=`` prefix, then a galloping search
on the sequence number). Before writing a partition's batches, a flush announces them in an
*intent* keyed by the partition and the first offset after its head
(``intents/<topic>/p=<p>/<first>-<sha>.json``), so the only batches that can exist beyond the
checkpoint are found with one LIST per partition (``find_intents``). Partitions have one owner at a
time (the consumer group), so this also holds with several archiver processes per region: the
process that is assigned a partition finishes what a crashed owner left (``flush``). A crash
between a manifest (or checkpoint) and its signature is finished by signing the stored bytes
again: Ed25519 signatures are deterministic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.archive.format import layout
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.manifest import GENESIS, Checkpoint
from pipeline.archive.format.store import ObjectNotFoundError, SeekableStore, Store, sha256_hex
from pipeline.errors import InvalidEventError, PipelineError
from pipeline.events.jsonform import parse_ts

log = logging.getLogger(__name__)


class IntentBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    object_key: str
    partition: int = Field(ge=0)
    first_offset: int = Field(ge=0)
    last_offset: int = Field(ge=0)
    schema_id: int | None


class Intent(BaseModel):
    """The batches a flush is about to write for one partition, consecutive from the partition's
    head; unsigned, only a hint for recovery (every batch it names is checked against the chain
    before it is used)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    topic: str
    partition: int = Field(ge=0)
    batches: list[IntentBatch] = Field(min_length=1)

    def canonical(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)

    @property
    def key(self) -> str:
        first = self.batches[0].first_offset
        return layout.intent_key(self.topic, self.partition, first, sha256_hex(self.canonical()))


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


def resign(store: Store, signer: Signer | None, key: str, sig_key: str, data: bytes) -> None:
    """Write ``key``'s signature if a crash left it out."""
    if store.exists(sig_key):
        return
    if signer is None:
        raise RecoveryError(f"{key} has no signature {sig_key} and no signing key was given")
    sig = signer.sign(data)
    # locked like the document it signs (retention.py), not with the store's default
    store.put_if_absent(sig_key, sig, sha256_hex(sig), retain_until=_retain_until(data))
    log.warning("completed an interrupted write: signed %s", key)


def _retain_until(data: bytes) -> datetime | None:
    """The ``retain_until`` a manifest or checkpoint records, if it records one still ahead
    (S3 refuses a retain-until in the past; the store's default applies then)."""
    try:
        until = orjson.loads(data).get("retain_until")
        parsed = parse_ts(until, "retain_until") if isinstance(until, str) else None
    except (orjson.JSONDecodeError, AttributeError, InvalidEventError):
        return None
    return parsed if parsed is not None and parsed > datetime.now(UTC) else None


def get_or_none(store: Store, key: str) -> bytes | None:
    try:
        return store.get(key)
    except ObjectNotFoundError:
        return None


def _seq_of(key: str) -> int:
    parsed = layout.parse_checkpoint_key(key)
    if parsed is None:
        raise RecoveryError(f"{key}: not a checkpoint key")
    return parsed.seq


def _latest_in_day(store: SeekableStore, prefix: str) -> str | None:
    """The highest-seq checkpoint key under one ``dt=`` prefix, in O(log n) LIST requests."""

    def at_least(seq: int) -> str | None:
        # keys sort as <seq:020d>.json/.sig; starting after "<seq:020d>" includes seq itself
        for key in store.list_after(prefix, f"{prefix}{seq:020d}", 2):
            if key.endswith(layout.CHECKPOINT_SUFFIX):
                return key
        return None

    best = at_least(0)
    if best is None:
        return None
    lo, step = _seq_of(best), 1
    while (found := at_least(lo + step)) is not None:
        best, lo, step = found, _seq_of(found), step * 2
    hi = lo + step  # nothing at or above hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found = at_least(mid)
        if found is None or _seq_of(found) >= hi:
            hi = mid
        else:
            best, lo = found, _seq_of(found)
    return best


def latest_checkpoint_key(store: Store, topic: str) -> str | None:
    """The key of ``topic``'s latest checkpoint (highest seq), or None."""
    prefix = f"{layout.CHECKPOINTS}{layout.check_topic(topic)}/"
    if isinstance(store, SeekableStore):
        for day in reversed(store.list_dirs(prefix)):
            key = _latest_in_day(store, day)
            if key is not None:
                return key
        return None
    best: tuple[int, str] | None = None
    for key in store.list(prefix):
        parsed = layout.parse_checkpoint_key(key)
        if parsed is not None and (best is None or parsed.seq > best[0]):
            best = (parsed.seq, key)
    return best[1] if best else None


def read_checkpoint(store: Store, key: str, signer: Signer | None = None) -> tuple[Checkpoint, str]:
    """A checkpoint and its SHA-256, signed now if a crash left it unsigned."""
    data = store.get(key)
    try:
        cp = Checkpoint.model_validate_json(data)
    except ValidationError as exc:
        raise RecoveryError(f"{key}: unreadable checkpoint: {exc}") from None
    resign(store, signer, key, layout.checkpoint_sig_key(key), data)
    return cp, sha256_hex(data)


def merge_checkpoint(state: ChainState, key: str, cp: Checkpoint, sha256: str) -> None:
    """Take ``cp`` as the latest checkpoint, and every head of it that is ahead of ``state``'s."""
    state.checkpoint = Head(key, sha256)
    state.checkpoint_seq = cp.seq
    for p, entry in cp.partitions.items():
        if entry.last_offset > state.last_offset(int(p)):
            state.partitions[int(p)] = Head(
                entry.manifest_key, entry.manifest_sha256, entry.last_offset
            )


def refresh(store: Store, state: ChainState, signer: Signer | None = None) -> None:
    """Catch ``state`` up with the archive's latest checkpoint (written by any process)."""
    key = latest_checkpoint_key(store, state.topic)
    if key is not None and (state.checkpoint is None or key != state.checkpoint.key):
        cp, sha256 = read_checkpoint(store, key, signer)
        if cp.seq > state.checkpoint_seq:
            merge_checkpoint(state, key, cp, sha256)


def recover(store: Store, topic: str, signer: Signer | None = None) -> ChainState:
    """Read the heads of ``topic``'s chains back from the latest checkpoint (see
    ``find_intents`` for what a crash may have left beyond it)."""
    state = ChainState(layout.check_topic(topic))
    refresh(store, state, signer)
    return state


def find_intents(store: Store, topic: str, partition: int, last_offset: int) -> list[Intent]:
    """Intents of flushes that started right after ``last_offset`` of ``partition`` (one LIST;
    several when a flush was retried with other batches after a failure)."""
    out: list[Intent] = []
    for key in store.list(layout.intent_prefix(topic, partition, last_offset + 1)):
        try:
            intent = Intent.model_validate_json(store.get(key))
        except ValidationError as exc:
            raise RecoveryError(f"{key}: unreadable intent: {exc}") from None
        if intent.key != key or intent.topic != topic or intent.partition != partition:
            raise RecoveryError(f"{key}: intent of another topic, partition or content")
        out.append(intent)
    return out
