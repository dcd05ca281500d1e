"""Reading the books after an e2e run: event ids per topic and per archive region, and the
leak scans (topics, archive objects, notifications, logs, metric labels)."""

from __future__ import annotations

import io
import itertools
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ahocorasick  # type: ignore[import-not-found,unused-ignore]
import fastavro
import orjson
from confluent_kafka import TopicPartition

from pipeline.archive.format.layout import parse_batch_key
from pipeline.archive.format.ocf import read_ocf
from pipeline.events.dlq import DlqKey, decrypt_raw
from pipeline.events.serde import AvroSerde
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def end_offsets(conn: KafkaConnection, topic: str) -> dict[int, int]:
    probe = clients.consumer(conn, f"e2e-probe-{uuid.uuid4().hex[:8]}")
    try:
        md = probe.list_topics(topic, timeout=10)
        return {
            p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in md.topics[topic].partitions
        }
    finally:
        probe.close()


def read_topic(conn: KafkaConnection, topic: str, idle_s: float = 3.0) -> Iterator[bytes]:
    """Every value of ``topic`` up to its end offsets at the time of the call."""
    ends = end_offsets(conn, topic)
    consumer = clients.consumer(
        conn, f"e2e-read-{uuid.uuid4().hex[:8]}", {"enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    left = {p: end for p, end in ends.items() if end > 0}
    try:
        while left:
            batch = consumer.consume(5000, idle_s)
            if not batch:
                break
            for msg in batch:
                if msg.error() is not None:
                    continue
                p = msg.partition() or 0
                if (msg.offset() or 0) + 1 >= left.get(p, 0):
                    left.pop(p, None)
                value = msg.value()
                if value is not None:
                    yield value
    finally:
        consumer.close()


class Follower:
    """Reads a topic from the start, each ``read()`` from where the last one stopped up to
    the end offsets of that moment (the accounting loop reads each record once)."""

    def __init__(self, conn: KafkaConnection, topic: str) -> None:
        self.conn = conn
        self.topic = topic
        self.consumer = clients.consumer(
            conn, f"e2e-follow-{uuid.uuid4().hex[:8]}", {"enable.auto.commit": False}
        )
        self.next: dict[int, int] = {}

    def read(self, idle_s: float = 3.0) -> Iterator[bytes]:
        ends = end_offsets(self.conn, self.topic)
        left = {p: end for p, end in ends.items() if end > self.next.get(p, 0)}
        if not left:
            return
        self.consumer.assign([TopicPartition(self.topic, p, self.next.get(p, 0)) for p in left])
        while left:
            batch = self.consumer.consume(5000, idle_s)
            if not batch:
                break
            for msg in batch:
                if msg.error() is not None:
                    continue
                p, offset = msg.partition() or 0, msg.offset() or 0
                if p not in left or offset >= left[p]:
                    continue  # past the end of this read: the next read takes it again
                self.next[p] = offset + 1
                if offset + 1 >= left[p]:
                    left.pop(p)
                value = msg.value()
                if value is not None:
                    yield value

    def close(self) -> None:
        self.consumer.close()


@dataclass
class Tally:
    """Occurrences of each event id in one place."""

    ids: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.ids.values() if n > 1)


def tally_events(
    values: Iterable[bytes], serde: AvroSerde, topic: str, into: Tally | None = None
) -> Tally:
    t = into if into is not None else Tally()
    for value in values:
        try:
            t.ids[str(serde.deserialize(value, topic)["event_id"])] += 1
        except Exception:
            t.undecodable += 1
    return t


def tally_dlq(
    values: Iterable[bytes],
    dlq_serde: AvroSerde,
    event_serde: AvroSerde,
    key: DlqKey,
    into: tuple[Tally, Counter[str]] | None = None,
) -> tuple[Tally, Counter[str]]:
    """Event ids of the dead letters (their raw bytes decrypted and decoded), and reasons."""
    t, reasons = into if into is not None else (Tally(), Counter[str]())
    for value in values:
        try:
            env = dlq_serde.deserialize(value, "dlq")
            reasons[str(env.get("reason", ""))[:80]] += 1
            raw = decrypt_raw({key.key_id: key}, env)
            t.ids[str(event_serde.deserialize(raw, "raw")["event_id"])] += 1
        except Exception:
            t.undecodable += 1
    return t, reasons


def archive_batches(s3: S3Client, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def covered(keys: Iterable[str], topic: str) -> dict[int, int]:
    """Per partition, the end of the offsets covered from 0 without a gap by batch objects."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for key in keys:
        b = parse_batch_key(key)
        if b is not None and b.topic == topic:
            spans.setdefault(b.partition, []).append((b.first_offset, b.last_offset))
    out: dict[int, int] = {}
    for p, ranges in spans.items():
        end = 0
        for first, last in sorted(ranges):
            if first > end:
                break
            end = max(end, last + 1)
        out[p] = end
    return out


def tally_archive(
    s3: S3Client, bucket: str, keys: Iterable[str], topic: str, scanner: LeakScanner
) -> tuple[Tally, set[str]]:
    """Event ids of every batch of ``topic`` in the bucket, and the seeded values found in
    any object (the batches decompressed)."""
    t = Tally()
    found: set[str] = set()
    schemas: dict[str, Any] = {}
    for key in keys:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        b = parse_batch_key(key)
        if b is None or b.topic != topic:
            found |= scanner.scan([data])
            continue
        ocf = read_ocf(data)
        found |= scanner.scan([ocf.data])
        schema = schemas.get(ocf.schema_json)
        if schema is None:
            schema = schemas[ocf.schema_json] = fastavro.parse_schema(orjson.loads(ocf.schema_json))
        for body in ocf.bodies():
            record: Any = fastavro.schemaless_reader(io.BytesIO(body), schema)
            t.ids[str(record["event_id"])] += 1
    return t, found


class LeakScanner:
    """Finds the seeded values in bytes, one Aho-Corasick pass per blob (a substring search
    per value took minutes at 50k events); blobs are scanned as they come, never all held."""

    def __init__(self, seeded: Iterable[str]) -> None:
        self.automaton = ahocorasick.Automaton()
        for v in seeded:
            self.automaton.add_word(v, v)
        self.empty = len(self.automaton) == 0
        if not self.empty:
            self.automaton.make_automaton()

    def scan(self, blobs: Iterable[bytes], chunk: int = 8 << 20) -> set[str]:
        """The values found in any of ``blobs`` (joined into chunks of about ``chunk`` bytes,
        separated by a newline so that no value is made up across two of them)."""
        found: set[str] = set()
        if self.empty:
            return found
        part: list[bytes] = []
        size = 0
        for blob in itertools.chain(blobs, [None]):
            if blob is not None:
                part.append(blob)
                size += len(blob)
            if part and (blob is None or size >= chunk):
                # latin-1 maps each byte to one character: the ASCII values match byte for byte
                text = b"\n".join(part).decode("latin-1")
                found.update(value for _, value in self.automaton.iter(text))
                part, size = [], 0
        return found


def leaks(seeded: Iterable[str], blobs: Iterable[bytes]) -> set[str]:
    """The seeded values found in any of ``blobs``."""
    return LeakScanner(seeded).scan(blobs)


_LABELS = re.compile(r"\{([^}]*)\}")


def metric_labels(text: str) -> set[str]:
    """Every label value of a Prometheus exposition text."""
    out: set[str] = set()
    for group in _LABELS.findall(text):
        out.update(m.group(1) for m in re.finditer(r'="((?:[^"\\]|\\.)*)"', group))
    return out
