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
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import fastavro

from pipeline.archive.format.body import check_layout
from pipeline.archive.format.keys import Signer
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
    batches = checkpoints = 0
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
            pending.append(encoder.encode(line))
        except InvalidEventError as exc:
            raise InvalidEventError(f"{path}:{number}: {exc.reason}") from None
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    if group or batches == 0:
        seal()
    return ImportResult(offset - start, batches, checkpoints, start, offset - 1)
