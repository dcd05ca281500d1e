"""Write batches, manifests and checkpoints to a store; shared by the importer and the archiver.

Per batch, in this order (each a write-once put): the OCF object, its manifest, the manifest's
signature. A crash between the steps leaves an object without a manifest (the batch is rebuilt
from redelivered records with identical bytes, so the retry is a no-op) or a manifest without a
signature (``chain.recover`` signs it). Offsets are committed to Kafka only after ``write_batch``
returned, which is the streaming archiver's business.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pipeline.archive.format import layout, merkle, ocf
from pipeline.archive.format.body import micros_to_datetime, schema_sha256
from pipeline.archive.format.chain import ChainState, Head, recover
from pipeline.archive.format.keys import ALGORITHM, Signer
from pipeline.archive.format.manifest import GENESIS, Checkpoint, CheckpointEntry, Manifest, Witness
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.archive.lifecycle.retention import Retention
from pipeline.archive.write.batcher import Batch
from pipeline.errors import PipelineError
from pipeline.events.jsonform import format_ts

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ChainError(PipelineError):
    """A batch does not continue its partition's chain (wrong first offset)."""


class ArchiveWriter:
    """Extends one topic's hash chains in a store, signing with ``signer``."""

    def __init__(
        self,
        store: Store,
        signer: Signer,
        schema: dict[str, Any],
        schema_json: str,
        state: ChainState,
        *,
        codec: str = ocf.DEFAULT_CODEC,
        clock: Clock = utcnow,
        retention: Retention | None = None,
        heartbeat_s: float | None = None,
    ) -> None:
        self.store = store
        self.heartbeat_s = heartbeat_s  # signed into checkpoints (streaming archiver only)
        self.retention = retention  # None: no retain-until (the store's default, if any)
        self.signer = signer
        self.schema_json = schema_json
        self.schema_sha256 = schema_sha256(schema)
        self.state = state
        self.codec = codec
        self.clock = clock

    @classmethod
    def open(
        cls,
        store: Store,
        signer: Signer,
        topic: str,
        schema: dict[str, Any],
        schema_json: str,
        **kwargs: Any,
    ) -> ArchiveWriter:
        """A writer continuing whatever ``store`` already holds for ``topic``."""
        return cls(store, signer, schema, schema_json, recover(store, topic, signer), **kwargs)

    @property
    def topic(self) -> str:
        return self.state.topic

    def _put(self, key: str, data: bytes, retain_until: datetime | None = None) -> None:
        self.store.put_if_absent(key, data, sha256_hex(data), retain_until=retain_until)

    def write_batch(self, batch: Batch) -> Manifest:
        """Write one batch and its signed manifest; extend the partition's chain."""
        if batch.topic != self.topic:
            raise ChainError(f"batch of topic {batch.topic} given to the writer of {self.topic}")
        expected = self.state.last_offset(batch.partition) + 1
        if expected and batch.first_offset != expected:
            raise ChainError(
                f"{self.topic}/{batch.partition}: batch starts at offset {batch.first_offset}, "
                f"the archive continues at {expected}: offsets {expected}-"
                f"{batch.first_offset - 1} were never archived. Restart the archiver (it resumes "
                "right after the archive's head); if Kafka no longer holds those offsets the gap "
                "is real: `auditpipe verify` reports it"
            )
        body = batch.to_ocf(self.schema_json, self.codec)
        key = batch.object_key()
        leaves = merkle.leaf_hashes_of(batch.bodies)
        ts = batch.ts
        now = self.clock()
        rclass: str | None = None
        until: datetime | None = None
        if self.retention is not None:
            rclass = self.retention.classify(batch.bodies, now)
            until = self.retention.until(rclass, now)
        manifest = Manifest(
            topic=batch.topic,
            partition=batch.partition,
            first_offset=batch.first_offset,
            last_offset=batch.last_offset,
            count=batch.count,
            first_ts=format_ts(micros_to_datetime(ts[0])),
            last_ts=format_ts(micros_to_datetime(ts[-1])),
            min_ts=format_ts(micros_to_datetime(min(ts))),
            max_ts=format_ts(micros_to_datetime(max(ts))),
            object_key=key,
            object_sha256=sha256_hex(body),
            object_size=len(body),
            codec=self.codec,
            merkle_root=merkle.root(leaves).hex(),
            prev_manifest_sha256=self.state.prev_manifest_sha256(batch.partition),
            schema_id=batch.schema_id,
            schema_sha256=self.schema_sha256,
            key_id=self.signer.key_id,
            algorithm=ALGORITHM,
            created=format_ts(now),
            retention_class=rclass,
            retain_until=format_ts(until) if until else None,
        )
        data = manifest.canonical()
        mkey = layout.manifest_key(key)
        self._put(key, body, until)
        self._put(mkey, data, until)
        self._put(layout.manifest_sig_key(key), self.signer.sign(data), until)
        self.state.partitions[batch.partition] = Head(mkey, sha256_hex(data), batch.last_offset)
        return manifest

    def checkpoint(self, witness: Witness | None = None) -> Checkpoint:
        """Write a signed checkpoint of every partition's head (also when nothing changed)."""
        now = self.clock()
        seq = self.state.checkpoint_seq + 1
        prev = self.state.checkpoint
        until = None
        if self.retention is not None:
            until = self.retention.until(self.retention.metadata_class, now)
        checkpoint = Checkpoint(
            topic=self.topic,
            seq=seq,
            created=format_ts(now),
            prev_checkpoint_key=prev.key if prev else None,
            prev_checkpoint_sha256=prev.sha256 if prev else GENESIS,
            partitions={
                str(p): CheckpointEntry(
                    manifest_key=h.key, manifest_sha256=h.sha256, last_offset=h.last_offset
                )
                for p, h in sorted(self.state.partitions.items())
            },
            witness=witness,
            key_id=self.signer.key_id,
            algorithm=ALGORITHM,
            retain_until=format_ts(until) if until else None,
            heartbeat_s=self.heartbeat_s,
        )
        data = checkpoint.canonical()
        key = layout.checkpoint_key(self.topic, seq, now.astimezone(UTC).date())
        self._put(key, data, until)
        self._put(layout.checkpoint_sig_key(key), self.signer.sign(data), until)
        self.state.checkpoint = Head(key, sha256_hex(data))
        self.state.checkpoint_seq = seq
        return checkpoint
