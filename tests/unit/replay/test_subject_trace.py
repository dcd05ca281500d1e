"""--subject (pseudonyms of every key version, exact matches, redaction) and trace timelines,
on a file:// archive."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.importer import import_jsonl
from pipeline.events.jsonform import format_ts
from pipeline.produce.generator import EventGenerator
from pipeline.replay.archive_source import replay_archive
from pipeline.replay.filters import compile_filters
from pipeline.replay.output import ListSink
from pipeline.replay.subject import REDACTED, SUBJECT, subject
from pipeline.replay.trace import narrow, services, timeline
from pipeline.replay.window import Window
from pipeline.scrub.keys import ScrubKeys
from pipeline.scrub.treatments import Pseudonymizer

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
K1 = hashlib.sha256(b"k1").digest()
K2 = hashlib.sha256(b"k2").digest()
KEYS = ScrubKeys({"k1": K1, "k2": K2}, "k2")


def _archive(tmp_path: Path, docs: list[dict[str, Any]]) -> tuple[FileStore, Keyring]:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    signer = Signer.generate()
    store = FileStore(tmp_path / "a", fsync=False)
    import_jsonl(src, store, signer, batch_size=50, checkpoint_every=3)
    return store, Keyring([signer.public_key()])


def _replay(store: FileStore, ring: Keyring, flt: Any) -> list[dict[str, Any]]:
    sink = ListSink()
    stats = replay_archive(store, ring, "import", Window(T0, T0 + timedelta(hours=1)), flt, sink)
    assert not stats.refused
    return sink.events


def test_subject_finds_exactly_that_persons_events_under_every_key_version(
    tmp_path: Path,
) -> None:
    old, new = Pseudonymizer(ScrubKeys({"k1": K1}, "k1")), Pseudonymizer(KEYS)
    docs = []
    for i, d in enumerate(itertools.islice(EventGenerator(seed=5).events(), 400)):
        person = f"user{i % 7}@example.com"
        pseudo = (old if i < 200 else new)(person)  # a key rotation half-way
        d = {**d, "ts": format_ts(T0 + timedelta(seconds=i)), "actor": {**d["actor"], "id": pseudo}}
        d["target"] = {
            "type": "account",
            "id": "x",
            "owner_id": new(f"user{(i + 1) % 7}@example.com"),
        }
        docs.append(d)
    store, ring = _archive(tmp_path, docs)
    subj = subject(KEYS, "user3@example.com")
    assert "ps:" not in repr(subj)
    got = _replay(
        store, ring, compile_filters([]).narrowed(subj.matches, subj.needles, subj.redact)
    )
    mine = [
        d for i, d in enumerate(docs) if i % 7 == 3 or (i + 1) % 7 == 3
    ]  # actor, or owner of the target
    assert [d["event_id"] for d in got] == [d["event_id"] for d in mine]
    text = orjson.dumps(got).decode()
    assert "ps:k1:" not in text
    assert "ps:k2:" not in text
    assert {d["actor"]["id"] for d in got} == {SUBJECT, REDACTED}
    assert all(SUBJECT in (d["actor"]["id"], d["target"]["owner_id"]) for d in got)


def test_trace_rebuilds_a_flow_in_order_with_services_and_gaps(tmp_path: Path) -> None:
    noise = list(itertools.islice(EventGenerator(seed=6).events(), 300))
    flow_at = [0.0, 0.004, 0.012, 2.5, 2.503]  # seconds after the flow starts
    flow_services = ["gateway", "auth-api", "billing-api", "billing-api", "gateway"]
    trace_id = "ab" * 16
    docs = []
    for i, d in enumerate(noise):
        docs.append({**d, "ts": format_ts(T0 + timedelta(seconds=i))})
    flow = []
    for at, service in zip(flow_at, flow_services, strict=True):
        base = noise[len(flow)]
        flow.append(
            {
                **base,
                "event_id": f"flow-{len(flow)}",
                "service": service,
                "trace_id": trace_id,
                "request_id": "req-flow",
                "ts": format_ts(T0 + timedelta(seconds=100 + at)),
            }
        )
    # archived out of time order (the flow's events sit in different batches and partitions
    # in real life): the timeline sorts them
    docs[120:120] = [flow[3], flow[0]]
    docs[40:40] = [flow[4], flow[2], flow[1]]
    store, ring = _archive(tmp_path, docs)
    for flt in (
        narrow(compile_filters([]), trace_id, None),
        narrow(compile_filters([]), None, "req-flow"),
    ):
        hops = timeline(_replay(store, ring, flt))
        assert [h.event_id for h in hops] == [f"flow-{i}" for i in range(5)]
        assert services(hops) == ["gateway", "auth-api", "billing-api"]
        assert [h.is_gap for h in hops] == [False, False, False, True, False]
        assert round(hops[3].gap_ms) == 2488
        assert round(hops[-1].since_start_ms) == 2503
