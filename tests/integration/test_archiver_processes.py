"""200k events archived by two `auditpipe run archiver` processes (one per region, the real
deployment shape), one of them killed with SIGKILL three times mid-flush and restarted: both
regions end complete, with no gap and no duplicate object, `verify` clean in each and
`verify --compare` clean across them."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.archive.format import keys as keys_mod
from pipeline.archive.format import layout
from pipeline.archive.format.chain import find_intents
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.s3client import ensure_object_lock_bucket, s3_client
from pipeline.archive.format.s3store import S3ObjectLockStore
from pipeline.archive.verify.verify import verify
from pipeline.cli.main import app
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.integration.archive_events import archived, observe, produce

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
REGIONS = ["us-east-1", "eu-central-1"]
N = 200_000
ARCHIVER = [sys.executable, "-m", "pipeline.cli.main", "run", "archiver"]


def _options(region: str, run: str) -> list[str]:
    return ["--group", f"archiver-{run}-{region}", "--prefix", run]


def _start(
    env: dict[str, str], region: str, run: str, log: Path, *options: str
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*ARCHIVER, "--region", region, *_options(region, run), *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


def _wait_for(store: S3ObjectLockStore, topic: str, target: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    done = archived(store, topic)
    while done < target and time.monotonic() < deadline:
        time.sleep(0.2)
        done = archived(store, topic)
    return done


def _wait_mid_flush(store: S3ObjectLockStore, topic: str, seen: set[str], timeout: float) -> None:
    """Wait until a flush is under way: an intent beyond a partition's checkpointed head that
    was not seen before (the one of a killed flush stays until the restart completes it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = observe(store, topic)
        done = sum(h.last_offset + 1 for h in state.partitions.values())
        assert done < N, "the archive completed before the kill"
        if _intents(store, topic) - seen:
            print(f"{done} archived, a flush running")
            return
        time.sleep(0.05)
    raise AssertionError("no flush seen")


def _intents(store: S3ObjectLockStore, topic: str) -> set[str]:
    """Keys of the intents beyond each partition's checkpointed head."""
    state = observe(store, topic)
    return {i.key for p in range(3) for i in find_intents(store, topic, p, state.last_offset(p))}


def _setup(
    stack: Settings, kafka_conn: KafkaConnection, tmp_path: Path
) -> tuple[str, str, dict[str, str], dict[str, S3ObjectLockStore], Path]:
    """A fresh topic, a signing key, and the archivers' environment: buckets
    auditpipe-test-archive-REGION, this run under the key prefix ``run``."""
    run = uuid.uuid4().hex[:8]
    topic = f"t{run}.events"
    ensure_topics(kafka_conn, [TopicSpec(topic, 3)])
    bucket_prefix = "auditpipe-test-archive"
    private, public = keys_mod.generate(tmp_path / "keys")
    stores = {}
    for region in REGIONS:
        s3 = s3_client(stack, region, timeout_s=5)
        ensure_object_lock_bucket(s3, f"{bucket_prefix}-{region}", region)
        stores[region] = S3ObjectLockStore(s3, f"{bucket_prefix}-{region}", prefix=run)
    env = {
        **os.environ,
        "AUDITPIPE_TOPICS__EVENTS": topic,
        "AUDITPIPE_ARCHIVE__ALERTS": "false",  # this test's events only, not the stack's alerts
        "AUDITPIPE_ARCHIVE__SIGNING_KEY": str(private),
        "AUDITPIPE_ARCHIVE__BUCKET_PREFIX": bucket_prefix,
        "AUDITPIPE_ARCHIVE__BATCH_EVENTS": "500",
        "AUDITPIPE_ARCHIVE__BATCH_AGE_S": "1",
        "AUDITPIPE_ARCHIVE__CHECKPOINT_INTERVAL_S": "2",
        "AUDITPIPE_LOG_LEVEL": "WARNING",
    }
    return run, topic, env, stores, public


def test_200k_events_in_both_regions_with_kill_9(
    stack: Settings, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    run, topic, env, stores, public = _setup(stack, kafka_conn, tmp_path)
    t0 = time.monotonic()
    produce(kafka_conn, topic, N)
    print(f"{time.monotonic() - t0:.1f}s: produced")
    logs = {r: tmp_path / f"archiver-{r}.log" for r in REGIONS}
    procs = {r: _start(env, r, run, logs[r]) for r in REGIONS}
    victim = REGIONS[0]
    try:
        # SIGKILL the victim three times in the middle of a flush (its intent is written, its
        # checkpoint not yet), restarting it each time
        seen: set[str] = set()
        for delay in (0.0, 0.4, 0.9):  # different points of the flush
            _wait_mid_flush(stores[victim], topic, seen, 120)
            time.sleep(delay)
            print(f"{time.monotonic() - t0:.1f}s: SIGKILL")
            assert procs[victim].poll() is None, logs[victim].read_text()[-2000:]
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait(10)
            seen |= _intents(stores[victim], topic)  # the killed flush's, all partitions
            procs[victim] = _start(env, victim, run, logs[victim])
        for region in REGIONS:
            done = _wait_for(stores[region], topic, N, 180)
            print(f"{time.monotonic() - t0:.1f}s: {region} has {done} events")
            assert done == N, (
                f"{region}: {done} of {N} archived; {logs[region].read_text()[-2000:]}"
            )
    finally:
        codes = {r: _stop(p) for r, p in procs.items()}
        delete_topics(kafka_conn, [topic])
    assert codes == dict.fromkeys(REGIONS, 0), {r: logs[r].read_text()[-2000:] for r in REGIONS}
    # at least one restart found batches of the killed flush and finished it
    assert "completed an interrupted flush" in logs[victim].read_text()

    # no duplicate object: every partition's batches tile its offsets exactly
    for region, store in stores.items():
        spans: dict[int, list[tuple[int, int]]] = {}
        for key in store.list(layout.EVENTS):
            parsed = layout.parse_batch_key(key)
            if parsed is not None:
                spans.setdefault(parsed.partition, []).append(
                    (parsed.first_offset, parsed.last_offset)
                )
        assert sum(last - first + 1 for s in spans.values() for first, last in s) == N, region
        for s in spans.values():
            s.sort()
            assert s[0][0] == 0
            assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(s)), region

    urls = {r: f"s3://auditpipe-test-archive-{r}/{run}" for r in REGIONS}
    result = CliRunner().invoke(
        app,
        [
            *("verify", "--source", urls[REGIONS[0]], "--compare", urls[REGIONS[1]]),
            *("--public-key", str(public), "--jobs", "2"),
        ],
    )
    assert result.exit_code == 0, result.output[-3000:]
    assert result.output.count("OK; 200,000 events") == 2, result.output
    assert "compare: same events; 3 partitions" in result.output
    witnesses = int(result.output.split("partitions, ")[1].split(" cross")[0])
    assert witnesses > 0, result.output


def test_two_archivers_share_one_region_and_one_takes_over(
    stack: Settings, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    """Two processes of one region's consumer group split the partitions and extend one
    checkpoint chain; one is killed and the other takes its partitions over (events produced
    after the kill need it): the region ends complete, every event once, verify clean."""
    run, topic, env, stores, public = _setup(stack, kafka_conn, tmp_path)
    env["AUDITPIPE_LOG_LEVEL"] = "INFO"
    region, half = REGIONS[0], 30_000
    store = stores[region]
    produce(kafka_conn, topic, half)
    logs = [tmp_path / f"archiver-{i}.log" for i in range(2)]
    procs = [_start(env, region, run, log, "--no-witness") for log in logs]
    try:
        deadline = time.monotonic() + 60
        while not all("partitions assigned" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, "the two archivers never shared the partitions"
            time.sleep(0.2)
        assert _wait_for(store, topic, half, 120) == half
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait(10)
        produce(kafka_conn, topic, half)  # some of it on the killed one's partitions
        assert _wait_for(store, topic, 2 * half, 120) == 2 * half, logs[0].read_text()[-2000:]
    finally:
        code = _stop(procs[0])
        delete_topics(kafka_conn, [topic])
    assert code == 0, logs[0].read_text()[-2000:]
    both = logs[0].read_text() + logs[1].read_text()
    assert "another archiver extended the checkpoint chain" in both  # compare-and-swap at work
    report = verify(store, Keyring.from_file(public))
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert report.summary.events == 2 * half
