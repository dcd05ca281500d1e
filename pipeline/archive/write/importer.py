"""Offline import: a JSON Lines file of events into an archive, without Kafka.

Each line is validated and converted with the events' JSON form (``jsonform.loads``) and encoded
to its Avro binary body, exactly what the sanitizer would have put on ``audit.events``. The
events get a synthetic position: topic ``import``, partition 0, offsets continuing after what the
archive already holds for that topic (0..n-1 for a fresh archive), in file order. From there the
path is the streaming archiver's: the same batches, keys, manifests, chains and checkpoints.

Batches are cut every ``batch_size`` events; a checkpoint is written every ``checkpoint_every``
batches and after the last one. An invalid line stops the import before its batch is written and
names the line number (batches already written stay valid and verifiable; importing the rest of
the file later continues the chain).

Duplicates are skipped, not archived twice: an event whose ``event_id`` the archive already
holds for the topic, or that an earlier line of the file had, is counted
(``ImportResult.duplicates``) and left out. The importer knows by reading every archived batch of
the topic first (the ``event_id`` is the first field of each Avro body, read without decoding
the rest) into a set of 16-byte BLAKE2b digests of the ids: about 100 bytes of memory per
archived event, and one read of the topic's batches per import.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import fastavro

from pipeline.archive.format import layout
from pipeline.archive.format.body import check_layout, peek_id_ts
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.ocf import read_ocf
from pipeline.archive.format.store import Store
from pipeline.archive.lifecycle.retention import Retention
from pipeline.archive.write.batcher import Batch, batch_of
from pipeline.archive.write.flush import open_writer, write_flush
from pipeline.archive.write.writer import ArchiveWriter, Clock, utcnow
from pipeline.errors import InvalidEventError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema, schema_text

IMPORT_TOPIC = "import"
IMPORT_PARTITION = 0


@dataclass(frozen=True)
class ImportResult:
    events: int
    batches: int
    checkpoints: int
    first_offset: int
    last_offset: int
    duplicates: int = 0  # lines skipped: event_id already archived, or earlier in the file


def _id_digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=16).digest()


def archived_event_ids(store: Store, topic: str) -> set[bytes]:
    """Digests of the ``event_id`` of every event archived for ``topic``."""
    ids: set[bytes] = set()
    for key in store.list(f"{layout.EVENTS}{topic}/"):
        if not key.endswith(layout.BATCH_SUFFIX):
            continue
        contents = read_ocf(store.get(key))
        for i in range(contents.count):
            ids.add(_id_digest(peek_id_ts(contents.body(i))[0]))
    return ids


class Encoder:
    """JSON-form events to Avro binary bodies of ``audit_event``."""

    def __init__(self) -> None:
        self.schema = parsed_schema(AUDIT_EVENT)
        self.writer_schema = fastavro.parse_schema(raw_schema(AUDIT_EVENT))
        check_layout(self.schema)

    def encode(self, line: bytes | str) -> bytes:
        datum = jsonform.loads(self.schema, line)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.writer_schema, datum)
        return buf.getvalue()


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, line


def import_jsonl(
    path: Path,
    store: Store,
    signer: Signer,
    *,
    batch_size: int = 10_000,
    checkpoint_every: int = 10,
    topic: str = IMPORT_TOPIC,
    clock: Clock = utcnow,
    progress: Callable[[int], None] | None = None,
    retention: Retention | None = None,
) -> ImportResult:
    """Import ``path`` into ``store``; ``progress`` is called with each batch's event count."""
    if batch_size < 1 or checkpoint_every < 1:
        raise ValueError("batch_size and checkpoint_every must be at least 1")
    encoder = Encoder()
    writer = ArchiveWriter.open(
        store,
        signer,
        topic,
        raw_schema(AUDIT_EVENT),
        schema_text(AUDIT_EVENT),
        clock=clock,
        retention=retention,
    )
    open_writer(writer)  # finish a flush an earlier, crashed import left
    start = writer.state.last_offset(IMPORT_PARTITION) + 1
    offset = start
    batches = checkpoints = duplicates = 0
    seen = archived_event_ids(store, topic) if start > 0 else set()
    pending: list[bytes] = []
    group: list[Batch] = []  # one flush: up to checkpoint_every batches, then a checkpoint

    def seal() -> None:
        nonlocal checkpoints
        write_flush(writer, group)
        checkpoints += 1
        if progress is not None:
            for b in group:
                progress(b.count)
        group.clear()

    def flush() -> None:
        nonlocal offset, batches, pending
        batch = batch_of(topic, IMPORT_PARTITION, offset, pending)
        group.append(batch)
        offset += batch.count
        batches += 1
        pending = []  # the batch keeps the list
        if len(group) >= checkpoint_every:
            seal()

    for number, line in _lines(path):
        try:
            body = encoder.encode(line)
        except InvalidEventError as exc:
            raise InvalidEventError(f"{path}:{number}: {exc.reason}") from None
        digest = _id_digest(peek_id_ts(body)[0])
        if digest in seen:
            duplicates += 1
            continue
        seen.add(digest)
        pending.append(body)
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    if group or batches == 0:
        seal()
    return ImportResult(offset - start, batches, checkpoints, start, offset - 1, duplicates)
