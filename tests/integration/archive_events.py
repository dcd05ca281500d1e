"""Helpers of the archiver integration tests: events on a topic, archive heads in a region."""

from __future__ import annotations

import io
import itertools

import fastavro

from pipeline.archive.format.chain import ChainState, latest_checkpoint_key, merge_checkpoint
from pipeline.archive.format.manifest import Checkpoint
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.produce.generator import EventGenerator

DISTINCT = 20_000  # encoding runs at ~12k events/s: larger runs repeat these (new offsets)


def wire(n: int, seed: int = 5) -> list[bytes]:
    """n generated events as Confluent wire-format values (schema id 1 in the header)."""
    schema, writer = parsed_schema(AUDIT_EVENT), fastavro.parse_schema(raw_schema(AUDIT_EVENT))
    out = []
    for doc in itertools.islice(EventGenerator(seed=seed).events(), min(n, DISTINCT)):
        buf = io.BytesIO(b"\x00\x00\x00\x00\x01")
        buf.seek(5)
        fastavro.schemaless_writer(buf, writer, jsonform.from_json(schema, doc))
        out.append(buf.getvalue())
    return list(itertools.islice(itertools.cycle(out), n))


def produce(conn: KafkaConnection, topic: str, n: int) -> None:
    producer = clients.producer(conn, {"linger.ms": 20})
    for i, value in enumerate(wire(n)):
        while True:
            try:
                producer.produce(topic, key=str(i % 50).encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def observe(store: Store, topic: str) -> ChainState:
    """The heads of ``topic``'s latest checkpoint, read as an observer of a live archiver.

    Not ``chain.recover``: that is the archiver's own start-up, which signs a checkpoint a
    crash left unsigned and fails without a key; an observer reading while an archiver is
    between a checkpoint and its signature (or was killed there) takes the checkpoint as is.
    """
    state = ChainState(topic)
    key = latest_checkpoint_key(store, topic)
    if key is not None:
        data = store.get(key)
        merge_checkpoint(state, key, Checkpoint.model_validate_json(data), sha256_hex(data))
    return state


def archived(store: Store, topic: str) -> int:
    """Events of ``topic`` covered by the archive's latest checkpoint (a fresh topic's offsets)."""
    state = observe(store, topic)
    return sum(h.last_offset + 1 for h in state.partitions.values())
