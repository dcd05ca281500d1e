"""Flushes and recovery: a checkpoint per flush, resume from the recent end, crash at each step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.archive.format import layout
from pipeline.archive.format.chain import latest_checkpoint_key, recover, refresh
from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.batcher import Batch, batch_of
from pipeline.archive.write.flush import complete_partition, open_writer, write_flush
from pipeline.archive.write.importer import Encoder, import_jsonl
from pipeline.archive.write.writer import ArchiveWriter
from pipeline.errors import RetryableError
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from tests.unit.archive.conftest import FakeClock

TOPIC = "audit.events"


@pytest.fixture(scope="module")
def bodies(docs: list[dict[str, Any]]) -> list[bytes]:
    enc = Encoder()
    return [enc.encode(orjson.dumps(d)) for d in docs[:120]]


class CountingStore(FileStore):
    """A FileStore that records full listings and can fail the n-th put (a region outage)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, fsync=False)
        object.__setattr__(self, "listed", [])
        object.__setattr__(self, "fail_at", None)
        object.__setattr__(self, "puts", 0)

    def list(self, prefix: str) -> Iterator[str]:
        self.listed.append(prefix)  # type: ignore[attr-defined]
        return super().list(prefix)

    def put_if_absent(
        self, key: str, data: bytes, checksum: str, *, retain_until: datetime | None = None
    ) -> bool:
        object.__setattr__(self, "puts", self.puts + 1)  # type: ignore[attr-defined]
        if self.fail_at is not None and self.puts == self.fail_at:  # type: ignore[attr-defined]
            raise RetryableError(f"PUT {key}: simulated outage")
        return super().put_if_absent(key, data, checksum, retain_until=retain_until)


def open_w(store: FileStore, signer: Signer, clock: FakeClock | None = None) -> ArchiveWriter:
    return open_writer(
        ArchiveWriter.open(
            store,
            signer,
            TOPIC,
            raw_schema(AUDIT_EVENT),
            schema_text(AUDIT_EVENT),
            clock=clock or FakeClock(),
        )
    )


def batches(bodies: list[bytes], start: int, sizes: list[int], partition: int = 0) -> list[Batch]:
    out = []
    for size in sizes:
        out.append(batch_of(TOPIC, partition, start, bodies[start : start + size], schema_id=3))
        start += size
    return out


def ring(signer: Signer) -> Keyring:
    return Keyring([signer.public_key()])


def keys(store: FileStore, suffix: str) -> list[str]:
    return [k for k in store.list("events/") if k.endswith(suffix)]


def test_every_flush_ends_with_a_checkpoint_of_the_heads(
    tmp_path: Path, bodies: list[bytes]
) -> None:
    store, signer = FileStore(tmp_path, fsync=False), Signer.generate()
    w = open_w(store, signer)
    cp0 = write_flush(w, batches(bodies, 0, [10, 10]) + batches(bodies, 0, [5], partition=1))
    cp1 = write_flush(w, batches(bodies, 20, [10]))
    cp2 = write_flush(w, [])  # a quiet period
    assert (cp0.seq, cp1.seq, cp2.seq) == (0, 1, 2)
    assert {p: e.last_offset for p, e in cp1.partitions.items()} == {"0": 29, "1": 4}
    assert cp2.partitions == cp1.partitions
    assert verify(store, ring(signer)).ok
    # deleting the last flush's batch is detected by the checkpoint written right after it
    tail = "p=0/00000000000000000020-00000000000000000029.avro.manifest.json"
    (last,) = [k for k in keys(store, ".avro.manifest.json") if k.endswith(tail)]
    (tmp_path / last).unlink()
    report = verify(store, ring(signer))
    assert any(p.kind == "missing" and "00000000000000000020" in p.key for p in report.problems)


def test_recovery_reads_the_recent_end_not_every_batch(tmp_path: Path, bodies: list[bytes]) -> None:
    store, signer = CountingStore(tmp_path), Signer.generate()
    clock = FakeClock()
    w = open_w(store, signer, clock)
    for i in range(12):
        write_flush(w, batches(bodies, 10 * i, [10]))
        clock.now += timedelta(hours=6)  # checkpoints over several days
    store.listed.clear()  # type: ignore[attr-defined]
    state = recover(store, TOPIC)
    assert state.last_offset(0) == 119
    assert state.checkpoint_seq == 11
    assert state.checkpoint is not None
    assert state.checkpoint.key == latest_checkpoint_key(store, TOPIC)
    # only the newest day's checkpoints were listed; never the batches
    assert store.listed, "expected listings of checkpoint days"  # type: ignore[attr-defined]
    listed: list[str] = store.listed  # type: ignore[attr-defined]
    assert all(p.startswith(f"checkpoints/{TOPIC}/dt=") for p in listed), listed
    assert len(set(listed)) == 1


def test_latest_checkpoint_found_by_galloping(tmp_path: Path, bodies: list[bytes]) -> None:
    store, signer = FileStore(tmp_path, fsync=False), Signer.generate()
    clock = FakeClock(datetime(2026, 11, 2, 23, 59, 0, tzinfo=UTC))
    w = open_w(store, signer, clock)
    for _ in range(70):  # crosses midnight: two dt= prefixes
        write_flush(w, [])
    key = latest_checkpoint_key(store, TOPIC)
    assert key == f"checkpoints/{TOPIC}/dt=2026-11-03/{69:020d}.json"
    assert recover(store, TOPIC).checkpoint_seq == 69


@pytest.mark.parametrize("crash", ["after-intent", "after-object", "after-manifest", "before-cp"])
def test_a_crash_anywhere_in_a_flush_is_completed_on_restart(
    tmp_path: Path, bodies: list[bytes], crash: str
) -> None:
    store, signer = FileStore(tmp_path, fsync=False), Signer.generate()
    w = open_w(store, signer)
    write_flush(w, batches(bodies, 0, [10]))
    flush = batches(bodies, 10, [10, 10])
    cp = write_flush(w, flush)
    # undo the tail of the second flush as if the process died at ``crash``
    ckey = latest_checkpoint_key(store, TOPIC)
    assert ckey is not None
    assert cp.seq == 1
    doomed = [ckey, layout.checkpoint_sig_key(ckey)]
    second = flush[1].object_key()
    if crash in ("after-intent", "after-object", "after-manifest"):
        doomed.append(layout.manifest_sig_key(second))
    if crash in ("after-intent", "after-object"):
        doomed.append(layout.manifest_key(second))
    if crash == "after-intent":
        doomed.append(second)
    for key in doomed:
        (tmp_path / key).unlink()

    w2 = open_w(store, signer)  # completes the flush and checkpoints it
    assert w2.state.checkpoint_seq == 1
    expected = 19 if crash == "after-intent" else 29
    assert w2.state.last_offset(0) == expected
    report = verify(store, ring(signer))
    assert report.ok, report.problems
    # the archiver then resumes right after the head, rebuilding batches from Kafka
    write_flush(w2, batches(bodies, expected + 1, [119 - expected]))
    report = verify(store, ring(signer))
    assert report.ok, report.problems
    assert report.summary.events == 120
    objects = keys(store, ".avro")
    firsts = [layout.parse_batch_key(k) for k in objects]
    assert sorted(b.first_offset for b in firsts if b) == [0, 10, 20, expected + 1][: len(objects)]
    assert len(objects) == (3 if crash == "after-intent" else 4)  # no duplicate, no orphan


@pytest.mark.parametrize("fail_at", range(1, 10))
def test_retrying_a_failed_flush_is_safe(tmp_path: Path, bodies: list[bytes], fail_at: int) -> None:
    store, signer = CountingStore(tmp_path), Signer.generate()
    w = open_w(store, signer)
    write_flush(w, batches(bodies, 0, [10]))
    flush = batches(bodies, 10, [10, 10])
    object.__setattr__(store, "puts", 0)
    object.__setattr__(store, "fail_at", fail_at)  # the outage hits put number fail_at
    with pytest.raises(RetryableError):
        write_flush(w, flush)
    object.__setattr__(store, "fail_at", None)
    write_flush(w, flush)  # the archiver's retry of the same flush
    write_flush(w, batches(bodies, 30, [10]))
    report = verify(store, ring(signer))
    assert report.ok, report.problems
    assert report.summary.events == 40
    assert len(keys(store, ".avro")) == 4


@pytest.mark.parametrize("fail_at", [2, 5, 9])
def test_an_import_that_died_mid_flush_is_completed_by_the_next(
    tmp_path: Path, events_file: Path, fail_at: int
) -> None:
    store, signer = CountingStore(tmp_path / "a"), Signer.generate()
    object.__setattr__(store, "fail_at", fail_at)  # intent 1, object 2, manifest 3, sig 4, ...
    with pytest.raises(RetryableError):
        import_jsonl(events_file, store, signer, batch_size=50, checkpoint_every=2)
    object.__setattr__(store, "fail_at", None)
    result = import_jsonl(events_file, store, signer, batch_size=50, checkpoint_every=2)
    report = verify(store, ring(signer))
    assert report.ok, report.problems
    # the second import appends after whatever the first one got durably written, skipping
    # the events that made it (by event_id, issue 16): the archive holds the file once
    assert report.summary.events == result.last_offset + 1 == 300
    assert result.events + result.duplicates == 300


def test_two_archivers_share_a_region(tmp_path: Path, bodies: list[bytes]) -> None:
    """Two processes of one consumer group, one store: the checkpoint chain stays one chain
    (compare-and-swap on seq, merging the other's heads), partitions move between them, and one
    finishes what the other's crash left of a flush."""
    store, signer = FileStore(tmp_path, fsync=False), Signer.generate()
    x, y = open_w(store, signer), open_w(store, signer)
    write_flush(x, batches(bodies, 0, [10], partition=0))
    write_flush(y, batches(bodies, 0, [10], partition=1))  # seq 0 taken: merges, writes seq 1
    write_flush(x, batches(bodies, 10, [10], partition=0))
    cp = write_flush(y, batches(bodies, 10, [10], partition=1))
    assert cp.seq == 3
    assert {p: e.last_offset for p, e in cp.partitions.items()} == {"0": 19, "1": 19}
    report = verify(store, ring(signer))
    assert report.ok, report.problems
    assert report.summary.checkpoints == 4

    # y dies in the middle of a flush of partition 1: intent and object written, no manifest
    doomed = batches(bodies, 20, [10], partition=1)[0]
    write_flush(y, [doomed])
    for key in (
        layout.manifest_key(doomed.object_key()),
        layout.manifest_sig_key(doomed.object_key()),
    ):
        (tmp_path / key).unlink()
    last = latest_checkpoint_key(store, TOPIC)
    assert last is not None
    (tmp_path / last).unlink()
    (tmp_path / layout.checkpoint_sig_key(last)).unlink()
    # x is assigned partition 1 (as ArchiverStage._on_assign does) and carries on
    refresh(store, x.state, signer)
    assert complete_partition(x, 1)
    assert x.state.last_offset(1) == 29
    write_flush(x, batches(bodies, 30, [10], partition=1) + batches(bodies, 20, [5], partition=0))
    report = verify(store, ring(signer))
    assert report.ok, report.problems
    assert report.summary.events == 40 + 25
