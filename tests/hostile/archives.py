"""Small signed archives for the hostile tests: a streaming-style archive whose checkpoints
carry the archiver's heartbeat, written against a clock relative to the real one."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization

from pipeline.archive.format.keys import Signer
from pipeline.archive.format.manifest import Witness
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.batcher import batch_of
from pipeline.archive.write.flush import write_flush
from pipeline.archive.write.importer import Encoder
from pipeline.archive.write.writer import ArchiveWriter
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from pipeline.produce.generator import EventGenerator

TOPIC = "audit.events"
HEARTBEAT_S = 60.0


class Clock:
    """Starts ``ago`` before the real now; each call advances ``step``."""

    def __init__(self, ago: timedelta, step: timedelta = timedelta(seconds=HEARTBEAT_S)) -> None:
        self.now = datetime.now(UTC) - ago
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def bodies(n: int, seed: int = 11) -> list[bytes]:
    enc = Encoder()
    docs = itertools.islice(EventGenerator(seed=seed).events(), n)
    return [enc.encode(orjson.dumps(d)) for d in docs]


def write_public_key(signer: Signer, path: Path) -> Path:
    path.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def streaming_archive(
    root: Path,
    signer: Signer,
    events: list[bytes],
    *,
    batch: int = 10,
    ago: timedelta = timedelta(minutes=30),
    idle_heartbeats: int = 0,
    witness: Iterator[Witness | None] | None = None,
) -> FileStore:
    """Batches of ``batch`` events, one flush (and checkpoint) each, a heartbeat apart, then
    ``idle_heartbeats`` checkpoints of an idle archiver; the last one about now if ``ago`` is
    (number of flushes) heartbeats."""
    store = FileStore(root, fsync=False)
    writer = ArchiveWriter.open(
        store,
        signer,
        TOPIC,
        raw_schema(AUDIT_EVENT),
        schema_text(AUDIT_EVENT),
        clock=Clock(ago),
        heartbeat_s=HEARTBEAT_S,
    )
    for lo in range(0, len(events), batch):
        w = next(witness) if witness is not None else None
        write_flush(writer, [batch_of(TOPIC, 0, lo, events[lo : lo + batch], schema_id=1)], w)
    for _ in range(idle_heartbeats):
        write_flush(writer, [])
    return store
