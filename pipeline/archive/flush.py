"""Flushes: a group of batches announced by an intent, written, and sealed by a checkpoint.

``write_flush`` is how the streaming archiver and the importer write: intent
(``intents/<topic>/<seq>.json``), then each batch (object, manifest, signature), then checkpoint
``seq`` naming every partition's new head. A checkpoint after every flush makes a deleted tail
detectable as soon as the flush is done, and lets ``chain.recover`` resume from the archive's
recent end (see there).

Every step is safe to repeat after a failure (a region outage mid-flush, or a crash and
restart): a batch object is rebuilt with identical bytes, so its put is a no-op; a manifest or
checkpoint the failed attempt already stored (with another ``created`` time, so the write-once
put refuses ours) is adopted after checking that it describes the same thing; a missing
signature is signed again. ``complete_intent`` finishes the flush a crash interrupted, reading
back a batch object that was stored without its manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import ValidationError

from pipeline.archive import layout
from pipeline.archive.batch import Batch, batch_of
from pipeline.archive.chain import (
    Head,
    Intent,
    IntentBatch,
    RecoveryError,
    get_or_none,
    latest_checkpoint_key,
    resign,
)
from pipeline.archive.manifest import Checkpoint, Manifest, Witness
from pipeline.archive.ocf import OcfError, read_ocf
from pipeline.archive.store import ObjectConflictError, sha256_hex
from pipeline.archive.writer import ArchiveWriter

log = logging.getLogger(__name__)


def _adopt_manifest(writer: ArchiveWriter, object_key: str, data: bytes) -> None:
    """Extend the chain with a manifest already in the store, after checking it continues it."""
    state = writer.state
    mkey = layout.manifest_key(object_key)
    try:
        m = Manifest.model_validate_json(data)
    except ValidationError as exc:
        raise RecoveryError(f"{mkey}: unreadable manifest: {exc}") from None
    p = m.partition
    if (
        m.topic != writer.topic
        or m.object_key != object_key
        or m.first_offset != state.last_offset(p) + 1
        or m.prev_manifest_sha256 != state.prev_manifest_sha256(p)
    ):
        raise RecoveryError(f"{mkey}: does not continue the chain of {m.topic}/{p}")
    resign(writer.store, writer.signer, mkey, layout.manifest_sig_key(object_key), data)
    state.partitions[p] = Head(mkey, sha256_hex(data), m.last_offset)


def _write_batch(writer: ArchiveWriter, batch: Batch) -> None:
    okey = batch.object_key()
    mkey = layout.manifest_key(okey)
    try:
        writer.write_batch(batch)
    except ObjectConflictError as exc:
        # the object put went through (same bytes); a failed attempt stored the manifest
        if not exc.key.endswith(mkey):
            raise
        data = writer.store.get(mkey)
        m = Manifest.model_validate_json(data)
        body = batch.to_ocf(writer.schema_json, writer.codec)
        if m.object_sha256 != sha256_hex(body) or m.last_offset != batch.last_offset:
            raise
        _adopt_manifest(writer, okey, data)


def _checkpoint(writer: ArchiveWriter, witness: Witness | None) -> Checkpoint:
    state = writer.state
    try:
        return writer.checkpoint(witness)
    except ObjectConflictError:
        key = latest_checkpoint_key(writer.store, writer.topic)
        if key is None or layout.parse_checkpoint_key(key) is None:
            raise
        data = writer.store.get(key)
        cp = Checkpoint.model_validate_json(data)
        heads = {
            str(p): (h.key, h.sha256, h.last_offset) for p, h in sorted(state.partitions.items())
        }
        named = {
            p: (e.manifest_key, e.manifest_sha256, e.last_offset) for p, e in cp.partitions.items()
        }
        prev = state.checkpoint
        if (
            cp.seq != state.checkpoint_seq + 1
            or named != heads
            or cp.prev_checkpoint_key != (prev.key if prev else None)
        ):
            raise
        resign(writer.store, writer.signer, key, layout.checkpoint_sig_key(key), data)
        state.checkpoint = Head(key, sha256_hex(data))
        state.checkpoint_seq = cp.seq
        return cp


def complete_intent(writer: ArchiveWriter) -> Checkpoint | None:
    """Finish the flush that ``writer.state.intent`` announced (after a crash); None if none."""
    state = writer.state
    intent = state.intent
    if intent is None:
        return None
    store = writer.store
    absent: set[int] = set()
    for ib in sorted(intent.batches, key=lambda b: (b.partition, b.first_offset)):
        p = ib.partition
        if p in absent or ib.last_offset <= state.last_offset(p):
            continue
        if ib.first_offset != state.last_offset(p) + 1:
            raise RecoveryError(
                f"{layout.intent_key(writer.topic, intent.seq)}: {ib.object_key} does not "
                f"follow the head of {writer.topic}/{p}"
            )
        data = get_or_none(store, layout.manifest_key(ib.object_key))
        if data is not None:
            _adopt_manifest(writer, ib.object_key, data)
            log.warning("completed an interrupted flush: %s", ib.object_key)
            continue
        body = get_or_none(store, ib.object_key)
        if body is None:
            absent.add(p)  # never written; nor was anything after it in this partition
            continue
        try:
            bodies = read_ocf(body).bodies()
        except OcfError as exc:
            raise RecoveryError(f"{ib.object_key}: unreadable batch: {exc}") from None
        batch = batch_of(writer.topic, p, ib.first_offset, bodies, ib.schema_id)
        if batch.object_key() != ib.object_key:
            raise RecoveryError(f"{ib.object_key}: its records do not rebuild the same batch")
        _write_batch(writer, batch)
        log.warning("completed an interrupted flush: wrote the manifest of %s", ib.object_key)
    state.intent = None
    return _checkpoint(writer, None)


def _announce(writer: ArchiveWriter, batches: Sequence[Batch]) -> None:
    state = writer.state
    intent = Intent(
        topic=writer.topic,
        seq=state.checkpoint_seq + 1,
        batches=[
            IntentBatch(
                object_key=b.object_key(),
                partition=b.partition,
                first_offset=b.first_offset,
                last_offset=b.last_offset,
                schema_id=b.schema_id,
            )
            for b in batches
        ],
    )
    data = intent.canonical()
    key = layout.intent_key(writer.topic, intent.seq)
    try:
        writer.store.put_if_absent(key, data, sha256_hex(data))
    except ObjectConflictError:
        # an earlier attempt announced other batches: finish that flush, announce in the next
        state.intent = Intent.model_validate_json(writer.store.get(key))
        complete_intent(writer)
        _announce(writer, [b for b in batches if b.last_offset > state.last_offset(b.partition)])


def write_flush(
    writer: ArchiveWriter, batches: Sequence[Batch], witness: Witness | None = None
) -> Checkpoint:
    """Write ``batches`` (offset order within each partition) and seal them with a checkpoint.

    With no batches this writes just a checkpoint (the periodic one of quiet periods).
    Retrying the same call after a failure is safe.
    """
    complete_intent(writer)
    state = writer.state
    todo = [b for b in batches if b.last_offset > state.last_offset(b.partition)]
    if todo:
        _announce(writer, todo)
        for batch in todo:
            if batch.last_offset > state.last_offset(batch.partition):
                _write_batch(writer, batch)
    return _checkpoint(writer, witness)


def open_writer(writer: ArchiveWriter) -> ArchiveWriter:
    """Finish whatever flush a crash interrupted, so ``writer.state`` is the archive's head."""
    complete_intent(writer)
    return writer
