"""`replay archive` on the real stack: the same window from Kafka and from either region's
archive holds the same events; a tampered batch in the window is refused and named (exit 4),
and read from the other region with --compare; a window of a 24-hour archive fetches only the
batches that overlap it."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.archive.format import keys, layout
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.write.batcher import BatchLimits
from pipeline.archive.write.importer import import_jsonl
from pipeline.archive.write.stream import ArchiverStage
from pipeline.events.jsonform import format_ts
from pipeline.kafka.config import KafkaConnection
from pipeline.produce.generator import EventGenerator
from pipeline.replay.filters import compile_filters
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import ListSink, Origin
from pipeline.replay.window import Window
from pipeline.settings import Settings
from tests.integration.replay_events import generated, produce_now

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ["us-east-1", "eu-central-1"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", *args],
        capture_output=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "250"},
        check=False,
        cwd=cwd,
    )


def _store(stack: Settings, region: str, run: str) -> tuple[S3ObjectLockStore, str]:
    client = s3_client(stack, region)
    bucket = f"auditpipe-test-archive-{region}"
    ensure_object_lock_bucket(client, bucket, region)
    return S3ObjectLockStore(client, bucket, prefix=run, retention_days=1), f"s3://{bucket}/{run}"


def _signer(tmp_path: Path) -> tuple[Signer, Path]:
    private, public = keys.generate(tmp_path / "keys")
    return keys.load_private_key(private), public


def _archive(
    kafka_conn: KafkaConnection,
    topic: str,
    stores: dict[str, S3ObjectLockStore],
    n: int,
    signer: Signer,
) -> None:
    stages = {
        region: ArchiverStage(
            kafka_conn,
            store,
            signer,
            topic=topic,
            region=region,
            limits=BatchLimits(max_events=100, max_age_s=0.5),
            checkpoint_interval_s=1.0,
            flush_interval_s=0.2,
            group_id=f"replay-test-{uuid.uuid4()}",
        )
        for region, store in stores.items()
    }
    threads = [threading.Thread(target=s.run, daemon=True) for s in stages.values()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while any(s.stats.events_archived < n for s in stages.values()):
        assert time.monotonic() < deadline, {r: s.stats for r, s in stages.items()}
        time.sleep(0.2)  # polling the archivers' own count of durable events
    for s in stages.values():
        s.stop()
    for t in threads:
        t.join(60)


class Capture:
    def __init__(self) -> None:
        self.got: list[tuple[dict[str, Any], Origin]] = []

    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        assert origin is not None
        self.got.append((doc, origin))

    def close(self) -> None:
        pass


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _by_id(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["event_id"]: d for d in docs}


def test_archive_replay_equals_kafka_replay_and_refuses_a_tampered_batch(
    stack: Settings,
    kafka_conn: KafkaConnection,
    topic_factory: Callable[..., str],
    tmp_path: Path,
) -> None:
    topic = topic_factory("audit.replay", partitions=3)
    produce_now(stack, topic, generated(400, seed=21), tmp_path / "spool")
    t1 = datetime.now(UTC)
    inside = produce_now(stack, topic, generated(900, seed=22), tmp_path / "spool")
    t2 = datetime.now(UTC)
    produce_now(stack, topic, generated(400, seed=23), tmp_path / "spool")

    run = uuid.uuid4().hex[:10]
    stores, urls = {}, {}
    for region in REGIONS:
        stores[region], urls[region] = _store(stack, region, run)
    signer, pub = _signer(tmp_path)
    _archive(kafka_conn, topic, stores, 1700, signer)

    flt = "category IN (AUTHN, AUTHZ, DATA_ACCESS)"
    sink = ListSink()
    replay_kafka(stack, topic, Window(t1, t2), compile_filters([flt]), sink)
    from_kafka = _by_id(sink.events)
    want = {d["event_id"] for d in inside if d["category"] in ("AUTHN", "AUTHZ", "DATA_ACCESS")}
    assert set(from_kafka) == want

    window = ["--from", format_ts(t1), "--to", format_ts(t2), "--topic", topic, "--filter", flt]
    for region in REGIONS:
        out = tmp_path / f"{region}.jsonl"
        done = _cli(
            "replay",
            "archive",
            "--source",
            urls[region],
            "--region",
            region,
            "--public-key",
            str(pub),
            *window,
            "--out",
            str(out),
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert b"objects listed" in done.stderr
        assert _by_id(_lines(out)) == from_kafka, region

    # a flow traced from the archive (either region): its events in time order
    flows: dict[str, list[dict[str, Any]]] = {}
    for d in inside:
        flows.setdefault(d["trace_id"], []).append(d)
    tid, flow = max(flows.items(), key=lambda kv: len({d["service"] for d in kv[1]}))
    assert len({d["service"] for d in flow}) > 1
    traced = _cli(
        "trace",
        tid,
        "--source",
        urls[REGIONS[1]],
        "--region",
        REGIONS[1],
        "--public-key",
        str(pub),
        "--topic",
        topic,
        "--from",
        format_ts(t1),
        "--to",
        format_ts(t2),
        "--json",
        cwd=tmp_path,
    )
    assert traced.returncode == 0, traced.stderr
    hops = [orjson.loads(line)["event"] for line in traced.stdout.splitlines()]
    assert [h["event_id"] for h in hops] == [
        d["event_id"] for d in sorted(flow, key=lambda d: d["ts"])
    ]

    # copied from the archive into a topic: the records as they were on the topic; a second
    # run resumes after what is there, so it copies nothing twice
    copy = topic_factory("audit.replay.copy", partitions=3)
    for _ in range(2):
        copied = _cli(
            "replay",
            "archive",
            "--source",
            urls[REGIONS[1]],
            "--region",
            REGIONS[1],
            "--public-key",
            str(pub),
            *window,
            "--to-topic",
            copy,
            cwd=tmp_path,
        )
        assert copied.returncode == 0, copied.stderr
    assert b"resuming the copy" in copied.stderr
    originals, copies = Capture(), Capture()
    replay_kafka(stack, topic, Window(t1, t2), compile_filters([flt]), originals)
    replay_kafka(stack, copy, Window(t1, t2), compile_filters([]), copies)
    assert sorted(d["event_id"] for d, _ in copies.got) == sorted(from_kafka)
    values = {d["event_id"]: o.value for d, o in originals.got}
    assert all(o.value == values[d["event_id"]] for d, o in copies.got)

    # tamper with one batch object inside the window in the first region (a new version of
    # the key: Object Lock keeps the old one, but readers get the new one)
    store = stores[REGIONS[0]]
    keys = [k for k in store.list(f"{layout.EVENTS}{topic}/") if k.endswith(layout.BATCH_SUFFIX)]
    victim = next(
        key
        for key in keys
        if format_ts(t1) <= orjson.loads(store.get(layout.manifest_key(key)))["min_ts"]
        and orjson.loads(store.get(layout.manifest_key(key)))["max_ts"] < format_ts(t2)
    )
    data = store.get(victim)
    store.s3.put_object(Bucket=store.bucket, Key=store._key(victim), Body=data[:-1] + b"\x00")
    out = tmp_path / "refused.jsonl"
    refused = _cli(
        "replay",
        "archive",
        "--source",
        urls[REGIONS[0]],
        "--region",
        REGIONS[0],
        "--public-key",
        str(pub),
        *window,
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert refused.returncode == 1, refused.stderr  # a check failed (README's exit codes)
    assert b"REFUSED" in refused.stderr
    assert victim.encode() in refused.stderr.replace(b"\n", b"")
    assert set(_by_id(_lines(out))) < set(from_kafka)

    # the first region gone entirely (no such bucket): --compare reads the other one
    gone = _cli(
        "replay",
        "archive",
        "--source",
        f"s3://auditpipe-test-gone-{run}",
        "--region",
        REGIONS[0],
        "--compare",
        urls[REGIONS[1]],
        "--compare-region",
        REGIONS[1],
        "--public-key",
        str(pub),
        *window,
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert gone.returncode == 0, gone.stderr
    assert b"read the other region instead" in gone.stderr
    assert _by_id(_lines(out)) == from_kafka

    healed = _cli(
        "replay",
        "archive",
        "--source",
        urls[REGIONS[0]],
        "--region",
        REGIONS[0],
        "--compare",
        urls[REGIONS[1]],
        "--compare-region",
        REGIONS[1],
        "--public-key",
        str(pub),
        *window,
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert healed.returncode == 0, healed.stderr
    assert _by_id(_lines(out)) == from_kafka


def test_a_window_of_a_24_hour_archive_fetches_only_overlapping_batches(
    stack: Settings, tmp_path: Path
) -> None:
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    docs = [
        {**d, "ts": format_ts(t0 + timedelta(seconds=36 * i))}
        for i, d in enumerate(itertools.islice(EventGenerator(seed=31).events(), 2400))
    ]
    src = tmp_path / "day.jsonl"
    src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    store, url = _store(stack, REGIONS[1], uuid.uuid4().hex[:10])
    signer, pub = _signer(tmp_path)
    import_jsonl(src, store, signer, batch_size=100, checkpoint_every=6)  # 24 batches
    start, end = t0 + timedelta(hours=13, minutes=20), t0 + timedelta(hours=14)
    out = tmp_path / "window.jsonl"
    done = _cli(
        "replay",
        "archive",
        "--source",
        url,
        "--region",
        REGIONS[1],
        "--topic",
        "import",
        "--public-key",
        str(pub),
        "--from",
        format_ts(start),
        "--to",
        format_ts(end),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    got = [d["event_id"] for d in _lines(out)]
    assert got == [d["event_id"] for d in docs if format_ts(start) <= d["ts"] < format_ts(end)]
    # 24 batches of 100 (one hour each): the window overlaps exactly one
    assert b"24 manifests and 1 batches fetched" in done.stderr, done.stderr
    assert b"scanned" in done.stderr
