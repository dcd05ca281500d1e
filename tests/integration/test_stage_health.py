"""Every stage serves /healthz, /readyz and /metrics on the local stack (one process each)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from pipeline.archive.format.keys import generate
from pipeline.kafka.admin import TopicSpec, admin_client, delete_topics, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topics import pipeline_topics
from pipeline.settings import Settings, TopicsConfig

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ROUTING = """
route: {receiver: feed, group_by: [rule_id]}
receivers:
  - {name: feed, type: kafka, topic: TOPIC}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _args(stage: str, run: str, tmp_path: Path) -> list[str]:
    group = f"health-{stage}-{run}"
    if stage == "sanitizer":
        return ["sanitizer", "--group", group]
    if stage == "detector":
        return ["detector", "--app-id", group]
    if stage == "router":
        routing = tmp_path / "routing.yaml"
        routing.write_text(ROUTING.replace("TOPIC", f"health.{run}.notify"))
        audit = f"health.{run}.raw.router"
        return ["router", "--config", str(routing), "--group", group, "--audit-topic", audit]
    return ["archiver", "--region", "us-east-1", "--group", group, "--prefix", f"health-{run}"]


@pytest.mark.parametrize("stage", ["sanitizer", "detector", "router", "archiver"])
def test_stage_serves_health_readiness_and_metrics(
    stack: Settings, tmp_path: Path, stage: str
) -> None:
    run = uuid.uuid4().hex[:8]
    port = _free_port()
    keys = tmp_path / "keys"
    generate(keys)
    # topics of this run only: a fresh group must not replay the shared stack's topics
    topics = {
        "RAW_PATTERN": rf"^health\.{run}\.raw\..*",
        "EVENTS": f"health.{run}.events",
        "DLQ": f"health.{run}.dlq",
        "ALERTS": f"health.{run}.alerts",
        "SILENCES": f"health.{run}.silences",
        "ROUTER_STATE": f"health.{run}.router-state",
        "ROUTER_IN": f"health.{run}.router-in",
    }
    env = {
        **os.environ,
        **{f"AUDITPIPE_TOPICS__{k}": v for k, v in topics.items()},
        "AUDITPIPE_HEALTH__PORT": str(port),
        "AUDITPIPE_HEALTH__PROBE_INTERVAL_S": "0.5",
        "AUDITPIPE_HMAC_KEY": secrets.token_hex(32),
        "AUDITPIPE_DLQ_KEY": secrets.token_hex(32),
        "AUDITPIPE_ARCHIVE__SIGNING_KEY": str(next(keys.glob("*.key.pem"))),
    }
    conn = KafkaConnection(bootstrap_servers=stack.kafka_bootstrap, client_id="health-test")
    # created up front with the pipeline's specs (compaction, retention), as the setup job does
    mine = stack.model_copy(
        update={"topics": TopicsConfig(**{k.lower(): v for k, v in topics.items()})}
    )
    raw = [TopicSpec(f"health.{run}.raw.{n}", partitions=3) for n in ("app", "router")]
    ensure_topics(conn, [*pipeline_topics(mine), *raw])
    log = tmp_path / f"{stage}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli.main", "run", *_args(stage, run, tmp_path)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        ready = (0, "")
        while time.monotonic() < deadline and proc.poll() is None:
            ready = _get(port, "/readyz")
            if ready[0] == 200:
                break
            time.sleep(0.5)
        assert ready[0] == 200, f"{stage} not ready: {ready}\n{log.read_text()[-3000:]}"
        assert "partitions assigned" in ready[1]
        assert _get(port, "/healthz")[0] == 200
        code, metrics = _get(port, "/metrics")
        assert code == 200
        group = f"health-{stage}-{run}"
        assert f'auditpipe_ready{{group="{group}"}} 1.0' in metrics
        assert "auditpipe_consumer_lag{" in metrics
        if stage == "archiver":
            assert 'auditpipe_archiver_checkpoint_age_seconds{region="us-east-1"}' in metrics
        if stage == "sanitizer":
            assert "auditpipe_sanitizer" in metrics, "the stage's own metrics ride along"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        names = admin_client(conn).list_topics(timeout=10).topics
        mine = (f"health.{run}.", f"health-detector-{run}")
        delete_topics(conn, [t for t in names if t.startswith(mine)])
