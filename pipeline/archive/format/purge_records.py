"""Signed purge records: what ``auditpipe retention purge`` removed, so ``verify`` can tell a
lawful purge from tampering.

Purge removes, per partition, a *prefix* of the manifest chain (never the head), and a prefix of
the checkpoint chain (never the latest). Before deleting anything it writes a purge record —
``purges/<topic>/<seq:020d>.json`` and its Ed25519 signature ``.sig``, locked with the metadata
retention class — naming every manifest it removes (key, SHA-256, partition, offsets) and every
checkpoint (key, SHA-256, seq). Purge records form their own hash chain (seq 0, 1, …, each naming
the previous record's key and hash) and are never purged.

``verify`` accepts, and only accepts:

* a partition whose first remaining manifest links (``prev_manifest_sha256``) to a recorded
  manifest of the same partition ending right before it;
* a first remaining checkpoint that links to a recorded checkpoint with the previous seq;
* a checkpoint naming a manifest that is gone, when that manifest (key and hash) is recorded;
* a recorded manifest whose batch object is already gone (a purge interrupted mid-way).

Anything else — a batch deleted without a record, a record whose signature fails, a manifest
removed that the record does not name with that hash — is still reported. Nobody without the
signing key can write a record, and Object Lock keeps unexpired objects from being deleted at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from pipeline.archive.format import layout
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import (
    GENESIS,
    Checkpoint,
    Hex64,
    KeyId,
    Manifest,
    Offset,
    Ts,
    _Model,
)
from pipeline.archive.format.store import ObjectNotFoundError, Store, sha256_hex

PURGES = "purges/"
RECORD_SUFFIX = ".json"
SIG_SUFFIX = ".sig"


def record_key(topic: str, seq: int) -> str:
    return f"{PURGES}{layout.check_topic(topic)}/{seq:020d}{RECORD_SUFFIX}"


def record_sig_key(key: str) -> str:
    return key.removesuffix(RECORD_SUFFIX) + SIG_SUFFIX


class PurgedManifest(_Model):
    manifest_key: str
    manifest_sha256: Hex64
    partition: Offset
    first_offset: Offset
    last_offset: Offset
    retain_until: Ts | None

    @classmethod
    def of(cls, key: str, data: bytes, m: Manifest) -> PurgedManifest:
        return cls(
            manifest_key=key,
            manifest_sha256=sha256_hex(data),
            partition=m.partition,
            first_offset=m.first_offset,
            last_offset=m.last_offset,
            retain_until=m.retain_until,
        )


class PurgedCheckpoint(_Model):
    key: str
    sha256: Hex64
    seq: Offset
    retain_until: Ts | None

    @classmethod
    def of(cls, key: str, data: bytes, cp: Checkpoint) -> PurgedCheckpoint:
        return cls(key=key, sha256=sha256_hex(data), seq=cp.seq, retain_until=cp.retain_until)


class PurgeRecord(_Model):
    """One purge run in one region for one topic."""

    version: Literal[1] = 1
    kind: Literal["purge"] = "purge"
    topic: str
    seq: Offset
    created: Ts
    region: str
    prev_record_key: str | None
    prev_record_sha256: Hex64
    manifests: list[PurgedManifest]
    checkpoints: list[PurgedCheckpoint]
    objects: Annotated[int, Field(ge=0)]  # every key the run deletes (batches, sigs, ...)
    key_id: KeyId
    algorithm: Literal["Ed25519"] = "Ed25519"
    retain_until: Ts | None = None


@dataclass(frozen=True, slots=True)
class RecordHead:
    key: str | None
    sha256: str
    seq: int  # -1: no record yet


def head(store: Store, topic: str) -> RecordHead:
    """The latest purge record of ``topic`` (to chain the next one to)."""
    keys = [k for k in store.list(f"{PURGES}{topic}/") if k.endswith(RECORD_SUFFIX)]
    if not keys:
        return RecordHead(None, GENESIS, -1)
    key = keys[-1]  # zero-padded seq: lexicographic is numeric order
    data = store.get(key)
    return RecordHead(key, sha256_hex(data), PurgeRecord.model_validate_json(data).seq)


@dataclass
class PurgeIndex:
    """What the valid purge records of an archive say was removed."""

    manifests: dict[tuple[str, int], dict[str, PurgedManifest]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    by_key: dict[str, str] = field(default_factory=dict)  # manifest key -> recorded sha256
    checkpoints: dict[str, dict[str, PurgedCheckpoint]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    records: int = 0

    def add(self, record: PurgeRecord) -> None:
        self.records += 1
        for m in record.manifests:
            self.manifests[(record.topic, m.partition)][m.manifest_sha256] = m
            self.by_key[m.manifest_key] = m.manifest_sha256
        for c in record.checkpoints:
            self.checkpoints[record.topic][c.sha256] = c

    def accepts_chain_start(self, m: Manifest) -> bool:
        """``m`` is the first manifest left of its partition: its predecessor was purged."""
        prev = self.manifests.get((m.topic, m.partition), {}).get(m.prev_manifest_sha256)
        return prev is not None and prev.last_offset == m.first_offset - 1

    def accepts_checkpoint_start(self, cp: Checkpoint) -> bool:
        prev = self.checkpoints.get(cp.topic, {}).get(cp.prev_checkpoint_sha256)
        return prev is not None and prev.seq == cp.seq - 1 and prev.key == cp.prev_checkpoint_key

    def purged(self, manifest_key: str, sha256: str) -> bool:
        """The manifest with this key and hash was lawfully purged (it may linger mid-purge)."""
        return self.by_key.get(manifest_key) == sha256


@dataclass
class Horizon:
    """How far an archive's purge records say it was purged (signatures unchecked: for
    ``verify --compare``, which leaves integrity to ``verify``)."""

    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # last purged offset
    checkpoints: dict[str, str] = field(default_factory=dict)  # purged key -> its sha256


def horizon(store: Store) -> Horizon:
    out = Horizon()
    for key in store.list(PURGES):
        if not key.endswith(RECORD_SUFFIX):
            continue
        try:
            rec = PurgeRecord.model_validate_json(store.get(key))
        except ValidationError:
            continue  # verify reports it
        for m in rec.manifests:
            tp = (rec.topic, m.partition)
            out.offsets[tp] = max(out.offsets.get(tp, -1), m.last_offset)
        out.checkpoints.update((c.key, c.sha256) for c in rec.checkpoints)
    return out


Problem = tuple[str, str, str]  # (key, kind, message), as verify.Problem takes them


def load(store: Store, keyring: Keyring) -> tuple[PurgeIndex, list[Problem]]:
    """Read and check every purge record: signatures, keys and each topic's record chain."""
    index = PurgeIndex()
    problems: list[Problem] = []
    keys = list(store.list(PURGES))
    records = [k for k in keys if k.endswith(RECORD_SUFFIX)]
    for skey in sorted(set(keys) - set(records) - {record_sig_key(k) for k in records}):
        problems.append((skey, "orphan", "not a purge record or the signature of one"))
    prev: dict[str, tuple[str, str, int]] = {}
    for key in records:
        data = store.get(key)
        try:
            rec = PurgeRecord.model_validate_json(data)
        except ValidationError as exc:
            problems.append((key, "purge-record", f"not a valid purge record: {exc.errors()[0]}"))
            continue
        try:
            sig = store.get(record_sig_key(key))
        except ObjectNotFoundError:
            problems.append((record_sig_key(key), "missing", f"the signature of {key} is missing"))
            continue
        reason = keyring.verify(rec.key_id, data, sig)
        if reason:
            problems.append((key, "signature", reason))
            continue
        if key != record_key(rec.topic, rec.seq):
            problems.append((key, "location", "key does not match the record's topic and seq"))
            continue
        last = prev.get(rec.topic)
        expected = (last[0], last[1]) if last else (None, GENESIS)
        if (rec.prev_record_key, rec.prev_record_sha256) != expected or rec.seq != (
            last[2] + 1 if last else 0
        ):
            problems.append(
                (key, "purge-record", "does not continue the chain of purge records (one missing?)")
            )
        prev[rec.topic] = (key, sha256_hex(data), rec.seq)
        index.add(rec)
    return index, problems
