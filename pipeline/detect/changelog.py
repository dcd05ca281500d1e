"""The detector's state in a compacted changelog topic: one record per (lane, partition, rule,
group), written at each checkpoint for the keys that changed, read back on assignment.

Keys are ``<lane>|<partition>|<state key>`` and a slot's records go to the changelog's
partition of the same number (the changelog has as many partitions as ``audit.events`` and the
lanes), so a worker assigned partition N of a lane reads only partition N of the changelog.
Values are the JSON of :meth:`GroupState.encode`; a tombstone deletes. Each slot has one more
record, ``<lane>|<partition>|`` + ``PROGRESS``: the engine's watermark and counters and the
next input offset its state covers (:class:`Progress`), written after the slot's state records
(one producer, one partition: in order), so a restart keeps the watermark and skips input the
restored state already holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from pipeline.detect.state import GroupState
from pipeline.errors import RetryableError, StateRecordError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.records import Fields, Record

PROGRESS = "\x00progress"
Slot = tuple[str, int]  # (lane, partition)


def changelog_topic(app_id: str) -> str:
    return f"{app_id}-detect-state-changelog"


def record_key(slot: Slot, key: str) -> bytes:
    return f"{slot[0]}|{slot[1]}|{key}".encode()


@dataclass(frozen=True, slots=True)
class Progress:
    """A slot's engine progress (``Engine.progress()``) and the next input offset it covers."""

    engine: Record
    offset: int

    def encode(self) -> bytes:
        return orjson.dumps({"engine": self.engine, "offset": self.offset})

    @classmethod
    def decode(cls, raw: bytes) -> Progress:
        f = Fields(orjson.loads(raw), "Progress")
        engine = f.doc.get("engine")
        if not isinstance(engine, dict):
            raise StateRecordError("Progress.engine: expected an object")
        return cls(engine, f.integer("offset"))


class SlotStore(dict[str, GroupState]):
    """One slot's state as the engine's store: the objects (which the engine updates in place),
    and the keys written or deleted since the last checkpoint."""

    def __init__(self, items: Iterable[tuple[str, GroupState]] = ()) -> None:
        super().__init__(items)
        self.dirty: set[str] = set()

    def __setitem__(self, key: str, value: GroupState) -> None:
        super().__setitem__(key, value)
        self.dirty.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.dirty.add(key)

    def changes(self) -> list[tuple[str, bytes | None]]:
        """(key, record or None for a tombstone) of every key changed; forgets them (the
        writes of a key coalesce: one record per key per checkpoint)."""
        out = []
        for key in self.dirty:
            state = self.get(key)
            out.append((key, None if state is None else orjson.dumps(state.encode())))
        self.dirty = set()
        return out


@dataclass
class Restored:
    store: SlotStore
    progress: Progress | None


def restore(
    conn: KafkaConnection, topic: str, partition: int, lanes: Iterable[str], group: str
) -> dict[str, Restored]:
    """Read partition ``partition`` of the changelog to its end: each lane's state and
    progress (empty for a lane never written). ``group``: the worker's own group id (the one
    its ACLs allow); the reader only assigns itself the partition, it never joins the group
    nor commits."""
    wanted = {lane: f"{lane}|{partition}|".encode() for lane in lanes}
    raw: dict[str, dict[str, bytes]] = {lane: {} for lane in wanted}
    consumer = clients.consumer(
        conn, group, {"enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        tp = TopicPartition(topic, partition)
        low, end = consumer.get_watermark_offsets(tp, timeout=30)
        if end > low:
            consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            done = False
            while not done:
                for msg in consumer.consume(10_000, 1.0):
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            done = True
                            continue
                        raise RetryableError(f"reading {topic}: {err.str()}")
                    key, value = msg.key() or b"", msg.value()
                    for lane, prefix in wanted.items():
                        if key.startswith(prefix):
                            name = key[len(prefix) :].decode()
                            if value is None:
                                raw[lane].pop(name, None)
                            else:
                                raw[lane][name] = value
                            break
                    if (msg.offset() or 0) + 1 >= end:
                        done = True
    finally:
        consumer.close()
    out = {}
    for lane, records in raw.items():
        progress = records.pop(PROGRESS, None)
        try:
            store = SlotStore(
                (name, GroupState.decode(orjson.loads(value))) for name, value in records.items()
            )
            decoded = None if progress is None else Progress.decode(progress)
        except (StateRecordError, orjson.JSONDecodeError) as exc:
            raise StateRecordError(f"{topic} partition {partition}: {exc}", topic=topic) from exc
        out[lane] = Restored(store, decoded)
    return out
