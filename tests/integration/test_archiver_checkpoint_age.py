"""The archiver's checkpoint-age metric grows while its S3 region is down.

The region is a versitygw of this test's own (the stack's binary, a temp dir, a free port), so
killing it leaves the shared stack alone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from pipeline.archive.format.keys import generate
from pipeline.kafka.admin import TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings
from tests.integration.archive_events import produce
from tests.integration.ports import free_port, wait_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def _metric(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(rf'^{name}{{region="{REGION}"}} (\S+)$', text, re.MULTILINE)
    return float(m.group(1)) if m else None


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_checkpoint_age_grows_while_the_region_is_down(stack: Settings, tmp_path: Path) -> None:
    versitygw = stack.stack.versitygw_bin
    if not versitygw.is_file():
        pytest.skip(f"{versitygw} not built (auditpipe stack fetch)")
    run = uuid.uuid4().hex[:8]
    s3_port, health_port = free_port(), free_port()
    (tmp_path / "objects").mkdir()
    (tmp_path / "versions").mkdir()
    access, secret = "agetest", "agetest-secret"
    s3 = subprocess.Popen(
        [str(versitygw), "--port", f"127.0.0.1:{s3_port}", "--region", REGION, "--quiet",
         "posix", "--versioning-dir", str(tmp_path / "versions"), str(tmp_path / "objects")],
        env={**os.environ, "ROOT_ACCESS_KEY_ID": access, "ROOT_SECRET_ACCESS_KEY": secret},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    conn = KafkaConnection(bootstrap_servers=stack.kafka_bootstrap, client_id="age-test")
    topic = f"age.{run}.events"
    ensure_topics(conn, [TopicSpec(topic, partitions=1)])
    keys = tmp_path / "keys"
    generate(keys)
    env = {
        **os.environ,
        "AUDITPIPE_S3_ENDPOINTS": f'{{"{REGION}": "http://127.0.0.1:{s3_port}"}}',
        "AUDITPIPE_S3_ACCESS_KEY_ID": access,
        "AUDITPIPE_S3_SECRET_ACCESS_KEY": secret,
        "AUDITPIPE_TOPICS__EVENTS": topic,
        "AUDITPIPE_ARCHIVE__SIGNING_KEY": str(next(keys.glob("*.key.pem"))),
        "AUDITPIPE_ARCHIVE__BATCH_AGE_S": "0.5",
        "AUDITPIPE_ARCHIVE__CHECKPOINT_INTERVAL_S": "1",
        "AUDITPIPE_HEALTH__PORT": str(health_port),
        "AUDITPIPE_HEALTH__PROBE_INTERVAL_S": "0.5",
    }
    log = tmp_path / "archiver.log"
    archiver: subprocess.Popen[bytes] | None = None
    try:
        wait_port(s3_port)
        produce(conn, topic, 200)
        with log.open("ab") as out:
            archiver = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli.main", "run", "archiver", "--region", REGION,
                 "--group", f"age-{run}", "--no-witness"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        written = None
        while time.monotonic() < deadline and archiver.poll() is None:
            written = _metric(health_port, "auditpipe_archiver_checkpoints")
            if written:
                break
            time.sleep(0.3)
        assert written, f"no checkpoint with the region up\n{log.read_text()[-3000:]}"

        _stop(s3, signal.SIGKILL)  # the region goes down
        produce(conn, topic, 200)  # work the archiver cannot make durable
        time.sleep(1.0)  # let a checkpoint in flight land or fail
        first = _metric(health_port, "auditpipe_archiver_checkpoint_age_seconds")
        count = _metric(health_port, "auditpipe_archiver_checkpoints")
        assert first is not None
        deadline = time.monotonic() + 30
        later = first
        while time.monotonic() < deadline and later < first + 5:
            time.sleep(0.5)
            later = _metric(health_port, "auditpipe_archiver_checkpoint_age_seconds") or 0.0
        assert later >= first + 5, (first, later)
        assert _metric(health_port, "auditpipe_archiver_checkpoints") == count
    finally:
        if archiver is not None:
            _stop(archiver, signal.SIGKILL)  # its open batch cannot be written: nothing to wait for
        _stop(s3, signal.SIGKILL)
        delete_topics(conn, [topic])
