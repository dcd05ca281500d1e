"""Flushes: batches announced by per-partition intents, written, and sealed by a checkpoint.

``write_flush`` is how the streaming archiver and the importer write: per partition an intent
(``intents/<topic>/p=<p>/<first>-<sha>.json``), then each batch (object, manifest, signature),
then the next checkpoint naming every partition's head. A checkpoint after every flush makes a
deleted tail detectable as soon as the flush is done, and lets ``chain.recover`` resume from the
archive's recent end (see there).

Several archiver processes may share a region (one consumer group, partitions spread over its
members): the checkpoint chain is then extended with compare-and-swap, the write-once put of
checkpoint ``seq`` being the swap. A process that finds ``seq`` taken by another reads that
checkpoint, takes the heads of the partitions it does not own (``chain.merge_checkpoint``) and
tries the next ``seq``, so every checkpoint names every partition's latest head.

Every step is safe to repeat after a failure (a region outage mid-flush, or a crash and
restart): a batch object is rebuilt with identical bytes, so its put is a no-op; a manifest or
checkpoint the failed attempt already stored (with another ``created`` time, so the write-once
put refuses ours) is adopted after checking that it describes the same thing; a missing
signature is signed again. ``complete_partition`` finishes what a crash left of a flush,
reading back a batch object that was stored without its manifest; the process that is assigned
the partition next calls it (``open_writer``, and the archiver on every assignment).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC

from pydantic import ValidationError

from pipeline.archive.format import layout
from pipeline.archive.format.chain import (
    Head,
    Intent,
    IntentBatch,
    RecoveryError,
    find_intents,
    get_or_none,
    latest_checkpoint_key,
    merge_checkpoint,
    read_checkpoint,
    resign,
)
from pipeline.archive.format.manifest import Checkpoint, Manifest, Witness
from pipeline.archive.format.ocf import OcfError, read_ocf
from pipeline.archive.format.store import ObjectConflictError, sha256_hex
from pipeline.archive.write.batcher import Batch, batch_of
from pipeline.archive.write.writer import ArchiveWriter

log = logging.getLogger(__name__)
CHECKPOINT_ATTEMPTS = 20  # compare-and-swap rounds before giving up (many writers racing)


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


def _heads(writer: ArchiveWriter) -> dict[str, tuple[str, str, int]]:
    return {
        str(p): (h.key, h.sha256, h.last_offset) for p, h in sorted(writer.state.partitions.items())
    }


def _taken_on_the_previous_day(writer: ArchiveWriter) -> bool:
    """Checkpoint keys carry the day they were written: across midnight, the next ``seq`` may
    exist under yesterday's prefix without our put of today's key conflicting."""
    prev = writer.state.checkpoint
    parsed = layout.parse_checkpoint_key(prev.key) if prev else None
    if parsed is None or parsed.day == writer.clock().astimezone(UTC).date():
        return False
    seq = writer.state.checkpoint_seq + 1
    return writer.store.exists(layout.checkpoint_key(writer.topic, seq, parsed.day))


def _checkpoint(writer: ArchiveWriter, witness: Witness | None) -> Checkpoint:
    """The next checkpoint: compare-and-swap on its sequence number (see the module docstring)."""
    state = writer.state
    for _ in range(CHECKPOINT_ATTEMPTS):
        if not _taken_on_the_previous_day(writer):
            try:
                return writer.checkpoint(witness)
            except ObjectConflictError:
                pass
        key = latest_checkpoint_key(writer.store, writer.topic)
        if key is None:
            raise RecoveryError(f"checkpoint {state.checkpoint_seq + 1} conflicts but is not found")
        cp, sha256 = read_checkpoint(writer.store, key, writer.signer)
        if cp.seq <= state.checkpoint_seq:
            raise RecoveryError(f"{key}: conflicts with checkpoint {state.checkpoint_seq + 1}")
        named = {
            p: (e.manifest_key, e.manifest_sha256, e.last_offset) for p, e in cp.partitions.items()
        }
        prev = state.checkpoint
        mine = cp.prev_checkpoint_key == (prev.key if prev else None) and named == _heads(writer)
        merge_checkpoint(state, key, cp, sha256)
        if mine:  # our own earlier attempt (or one naming exactly our heads)
            return cp
        log.info("another archiver extended the checkpoint chain", extra={"checkpoint": key})
    raise RecoveryError(f"gave up extending the checkpoint chain after {CHECKPOINT_ATTEMPTS} tries")


def _complete_intent(writer: ArchiveWriter, intent: Intent) -> None:
    state, store, p = writer.state, writer.store, intent.partition
    for ib in intent.batches:
        if ib.last_offset <= state.last_offset(p):
            continue
        if ib.first_offset != state.last_offset(p) + 1:
            raise RecoveryError(f"{intent.key}: {ib.object_key} does not follow the head of {p}")
        data = get_or_none(store, layout.manifest_key(ib.object_key))
        if data is not None:
            _adopt_manifest(writer, ib.object_key, data)
            log.warning("completed an interrupted flush: %s", ib.object_key)
            continue
        body = get_or_none(store, ib.object_key)
        if body is None:
            return  # never written; nor was anything after it in this partition
        try:
            bodies = read_ocf(body).bodies()
        except OcfError as exc:
            raise RecoveryError(f"{ib.object_key}: unreadable batch: {exc}") from None
        batch = batch_of(writer.topic, p, ib.first_offset, bodies, ib.schema_id)
        if batch.object_key() != ib.object_key:
            raise RecoveryError(f"{ib.object_key}: its records do not rebuild the same batch")
        _write_batch(writer, batch)
        log.warning("completed an interrupted flush: wrote the manifest of %s", ib.object_key)


def complete_partition(writer: ArchiveWriter, partition: int) -> bool:
    """Finish the flushes of ``partition`` a crash left beyond the head; True if it moved."""
    state = writer.state
    start = state.last_offset(partition)
    while True:
        before = state.last_offset(partition)
        for intent in find_intents(writer.store, writer.topic, partition, before):
            if state.last_offset(partition) == before:
                _complete_intent(writer, intent)
        if state.last_offset(partition) == before:
            return before != start


def open_writer(writer: ArchiveWriter, partitions: Iterable[int] | None = None) -> ArchiveWriter:
    """Finish what a crash left of ``partitions`` (default: every partition the latest
    checkpoint names, and 0), and checkpoint it, so ``writer.state`` is the archive's head."""
    wanted = set(writer.state.partitions) | {0} if partitions is None else set(partitions)
    changed = [p for p in sorted(wanted) if complete_partition(writer, p)]
    if changed:
        _checkpoint(writer, None)
    return writer


def _announce(writer: ArchiveWriter, batches: Sequence[Batch]) -> None:
    by_partition: dict[int, list[Batch]] = {}
    for b in batches:
        by_partition.setdefault(b.partition, []).append(b)
    for p, group in sorted(by_partition.items()):
        intent = Intent(
            topic=writer.topic,
            partition=p,
            batches=[
                IntentBatch(
                    object_key=b.object_key(),
                    partition=p,
                    first_offset=b.first_offset,
                    last_offset=b.last_offset,
                    schema_id=b.schema_id,
                )
                for b in group
            ],
        )
        data = intent.canonical()
        writer.store.put_if_absent(intent.key, data, sha256_hex(data))


def write_flush(
    writer: ArchiveWriter, batches: Sequence[Batch], witness: Witness | None = None
) -> Checkpoint:
    """Write ``batches`` (offset order within each partition) and seal them with a checkpoint.

    With no batches this writes just a checkpoint (the periodic one of quiet periods).
    Retrying the same call after a failure is safe.
    """
    state = writer.state
    todo = [b for b in batches if b.last_offset > state.last_offset(b.partition)]
    if todo:
        _announce(writer, todo)
        for batch in todo:
            if batch.last_offset > state.last_offset(batch.partition):
                _write_batch(writer, batch)
    return _checkpoint(writer, witness)
