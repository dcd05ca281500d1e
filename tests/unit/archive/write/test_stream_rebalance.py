"""The streaming archiver across rebalances, deterministically: a scripted stand-in for the
consumer (the Kafka protocol is not under test here; tests/integration/test_archiver_processes.py
runs real processes on the real broker) drives ``ArchiverStage.run`` against a file:// archive.

Issue 7 (test_two_archivers_share_one_region_and_one_takes_over): when a partition came back in
a rebalance, the records ``consume`` returned right after the new assignment were closed into
batches appended to a list the revoke callback had just replaced, so they were never written;
the next batch then started past the archive's head ("batch starts at offset 9400, the archive
continues at 8400") and the archiver stopped for good.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import TopicPartition

from pipeline.archive.format import layout
from pipeline.archive.format.body import WIRE_MAGIC
from pipeline.archive.format.chain import latest_checkpoint_key, recover
from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.batcher import BatchLimits, batch_of
from pipeline.archive.write.flush import open_writer, write_flush
from pipeline.archive.write.importer import Encoder
from pipeline.archive.write.stream import ArchiverStage
from pipeline.archive.write.writer import ArchiveWriter
from pipeline.errors import RegistryUnavailableError
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from pipeline.kafka.config import KafkaConnection

TOPIC = "audit.events"
BATCH = 10


class Record:
    """What ``ArchiverStage._take`` reads of a consumed message."""

    def __init__(self, partition: int, offset: int, value: bytes) -> None:
        self._partition, self._offset, self._value = partition, offset, value

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


Step = Callable[["ScriptedConsumer"], list[Record]]


class ScriptedConsumer:
    """Each ``consume`` runs the next step (which may call the rebalance callbacks first, as
    librdkafka does inside ``consume``); when the script ends the stage is stopped."""

    def __init__(self, stage: ArchiverStage, steps: list[Step]) -> None:
        self.stage, self.steps = stage, list(steps)
        self.on_assign: Any = None
        self.on_revoke: Any = None
        self.positions: dict[int, int] = {}
        self.commits: list[list[tuple[int, int]]] = []

    def subscribe(self, _topics: list[str], *, on_assign: Any, on_revoke: Any) -> None:
        self.on_assign, self.on_revoke = on_assign, on_revoke

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.positions = {tp.partition: tp.offset for tp in partitions}

    def unassign(self) -> None:
        self.positions = {}

    def rebalance(self, revoked: list[int], assigned: list[int]) -> None:
        self.on_revoke(self, [TopicPartition(TOPIC, p) for p in revoked])
        self.on_assign(self, [TopicPartition(TOPIC, p) for p in assigned])

    def consume(self, _n: int, _timeout: float) -> list[Record]:
        if not self.steps:
            self.stage.stop()
            return []
        return self.steps.pop(0)(self)

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert not asynchronous
        self.commits.append([(tp.partition, tp.offset) for tp in offsets])

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def values(docs: list[dict[str, Any]]) -> list[bytes]:
    enc = Encoder()
    header = bytes([WIRE_MAGIC]) + (1).to_bytes(4, "big")
    return [header + enc.encode(orjson.dumps(d)) for d in docs[:60]]


def _records(values: list[bytes], first: int, last: int, partition: int = 0) -> list[Record]:
    return [Record(partition, o, values[o]) for o in range(first, last + 1)]


def _first_assignment(values: list[bytes], partitions: list[int]) -> Step:
    """The first ``consume``: ``partitions`` are assigned, partition 0's offsets 0-9 return."""

    def step(c: ScriptedConsumer) -> list[Record]:
        c.on_assign(c, [TopicPartition(TOPIC, p) for p in partitions])
        return _records(values, 0, 9)

    return step


def _stage(root: Path, signer: Signer, steps: list[Step]) -> tuple[ArchiverStage, FileStore]:
    store = FileStore(root, fsync=False)
    stage = ArchiverStage(
        KafkaConnection(bootstrap_servers="127.0.0.1:1"),  # never contacted: replaced below
        store,
        signer,
        topic=TOPIC,
        region="test",
        limits=BatchLimits(max_events=BATCH, max_age_s=3600),
        flush_interval_s=0,
        checkpoint_interval_s=3600,
    )
    stage.consumer.close()
    stage.consumer = ScriptedConsumer(stage, steps)  # type: ignore[assignment]
    return stage, store


def test_records_consumed_right_after_a_reassignment_are_archived(
    tmp_path: Path, values: list[bytes]
) -> None:
    """Partition 0 is revoked and assigned again inside one ``consume`` that then returns the
    records after the head (two whole batches): they must be written, and the next batch must
    continue the chain, not start 20 offsets past the archive's head."""

    def records(first: int, last: int) -> list[Record]:
        return _records(values, first, last)

    def reassigned(c: ScriptedConsumer) -> list[Record]:
        c.rebalance([0], [0])
        assert c.positions == {0: 10}  # resumes right after the archived head
        return records(10, 29)

    signer = Signer.generate()
    stage, store = _stage(
        tmp_path / "archive",
        signer,
        [_first_assignment(values, [0]), reassigned, lambda _c: records(30, 39)],
    )
    stats = stage.run()  # before the fix: ChainError "batch starts at offset 30, ... at 10"

    assert recover(store, TOPIC).last_offset(0) == 39
    assert stats.events_archived == 40
    consumer = stage.consumer
    assert isinstance(consumer, ScriptedConsumer)
    assert consumer.commits[-1] == [(0, 40)]
    report = verify(store, Keyring([signer.public_key()]))
    assert report.ok, [str(p) for p in report.problems]
    assert report.summary.events == 40


def test_records_fetched_before_a_rebalance_do_not_outrun_the_head(
    tmp_path: Path, values: list[bytes]
) -> None:
    """``consume`` returns records of partition 0 fetched before the rebalance (offsets 15-19,
    not archived) together with those after the re-assignment (from 10): the archive still
    grows without a gap, and records of a partition no longer owned are left to its owner."""

    def records(p: int, first: int, last: int) -> list[Record]:
        return _records(values, first, last, p)

    def rebalanced(c: ScriptedConsumer) -> list[Record]:
        c.rebalance([0, 1], [0])
        return records(0, 15, 19) + records(1, 0, 9) + records(0, 10, 29)

    signer = Signer.generate()
    stage, store = _stage(
        tmp_path / "archive", signer, [_first_assignment(values, [0, 1]), rebalanced]
    )
    stage.run()

    state = recover(store, TOPIC)
    assert state.last_offset(0) == 29
    assert state.last_offset(1) == -1  # partition 1 moved away: not archived by this process
    report = verify(store, Keyring([signer.public_key()]))
    assert report.ok, [str(p) for p in report.problems]


@pytest.mark.parametrize("checkpointed", [True, False])
def test_a_partition_that_comes_back_resumes_after_the_other_owners_batches(
    tmp_path: Path, values: list[bytes], checkpointed: bool
) -> None:
    """The stage archives partition 0 up to 9, loses it to another archiver of the region,
    which writes 10-19 (and is killed before or after its checkpoint), then gets it back: the
    head is read again from the archive (checkpoint, then intents after it), never from the
    stage's own memory, so it resumes at 20 and the chain continues."""

    def records(first: int, last: int) -> list[Record]:
        return _records(values, first, last)

    def taken_away(c: ScriptedConsumer) -> list[Record]:
        c.rebalance([0], [])
        other = open_writer(
            ArchiveWriter.open(
                c.stage.store, signer, TOPIC, raw_schema(AUDIT_EVENT), schema_text(AUDIT_EVENT)
            )
        )
        bodies = [v[5:] for v in values[10:20]]
        write_flush(other, [batch_of(TOPIC, 0, 10, bodies, schema_id=1)])
        if not checkpointed:  # killed after the batch and its manifest, before the checkpoint
            key = latest_checkpoint_key(c.stage.store, TOPIC)
            assert key is not None
            for k in (key, layout.checkpoint_sig_key(key)):
                (tmp_path / "archive" / k).unlink()
        return []

    def back(c: ScriptedConsumer) -> list[Record]:
        c.rebalance([], [0])
        assert c.positions == {0: 20}
        return records(20, 29)

    signer = Signer.generate()
    stage, store = _stage(
        tmp_path / "archive", signer, [_first_assignment(values, [0]), taken_away, back]
    )
    stage.run()

    assert recover(store, TOPIC).last_offset(0) == 29
    report = verify(store, Keyring([signer.public_key()]))
    assert report.ok, [str(p) for p in report.problems]
    assert report.summary.events == 30


class FlakyDecoder:
    """A transform (the alerts source's decoder) that fails ``failures`` times as if the schema
    registry were down, then passes the Avro body through."""

    def __init__(self, failures: int, stage: ArchiverStage | None = None) -> None:
        self.failures, self.calls, self.stage = failures, 0, stage

    def __call__(self, value: bytes) -> bytes:
        self.calls += 1
        if self.calls <= self.failures:
            if self.stage is not None and self.calls == self.failures:
                self.stage.stop()  # a SIGTERM during the outage
            raise RegistryUnavailableError("schema registry unreachable (ConnectError)")
        return value[5:]


def test_a_registry_outage_in_the_transform_is_waited_out(
    tmp_path: Path, values: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the alerts source's decoder raised during a registry outage and the archiver
    stopped (and its restarts did, until the registry was back: the 1 M chaos run's crashes)."""
    monkeypatch.setattr(threading.Event, "wait", lambda _self, _t=None: False)  # no backoff
    signer = Signer.generate()
    stage, store = _stage(tmp_path / "archive", signer, [_first_assignment(values, [0])])
    stage.transform = FlakyDecoder(3)
    stats = stage.run()
    assert recover(store, TOPIC).last_offset(0) == 9
    assert stats.events_archived == 10


def test_a_stop_during_a_registry_outage_keeps_what_was_taken(
    tmp_path: Path, values: list[bytes]
) -> None:
    """Stopped while waiting for the registry: the records before are archived and committed,
    the one waiting and those after are not (consumed again at the next start)."""
    signer = Signer.generate()
    stage, store = _stage(tmp_path / "archive", signer, [_first_assignment(values, [0])])
    decoder = FlakyDecoder(0, stage)
    good = 4

    def transform(value: bytes) -> bytes:
        if decoder.calls >= good:  # the fifth record finds the registry down, then a stop
            decoder.failures = decoder.calls + 1
        return decoder(value)

    stage.transform = transform
    stats = stage.run()
    assert recover(store, TOPIC).last_offset(0) == good - 1
    assert stats.events_archived == good
    consumer = stage.consumer
    assert isinstance(consumer, ScriptedConsumer)
    assert consumer.commits[-1] == [(0, good)]
