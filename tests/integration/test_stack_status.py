"""`auditpipe stack status` tells the truth after a kill -9 of any one service, and
`auditpipe stack up` brings that service back (idempotently, leaving the others alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.stack import manager, procs
from pipeline.stack.services import all_services

pytestmark = pytest.mark.integration

AUDITPIPE = [sys.executable, "-m", "pipeline.cli.main"]
SERVICES = ["kafka", "schema-registry", "s3-us-east-1", "s3-eu-central-1"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUDITPIPE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.fixture
def local_stack(stack: Settings) -> Settings:
    if stack.uses_external_services:
        pytest.skip("kill -9 needs the local stack; AUDITPIPE_* point at external services")
    return stack


@pytest.mark.parametrize("victim", SERVICES)
def test_status_after_kill_9(local_stack: Settings, victim: str) -> None:
    cfg = local_stack.stack
    svc = next(s for s in all_services(cfg) if s.name == victim)
    pid = procs.running_pid(svc.spec())
    assert pid is not None, f"{victim} should be running before the test"

    before = _cli("stack", "status")
    assert before.returncode == 0, before.stdout + before.stderr

    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while procs.is_running(pid, svc.spec().marker) and time.monotonic() < deadline:
        time.sleep(0.05)

    after = _cli("stack", "status")
    assert after.returncode == 1
    rows = {r.name: r for r in manager.status(cfg)}
    assert rows[victim].state == "down"
    assert "killed" in rows[victim].detail or "gone" in rows[victim].detail
    assert all(rows[n].up for n in SERVICES if n != victim)
    line = next(ln for ln in after.stdout.splitlines() if victim in ln)
    assert "down" in line

    # `stack up` restarts only the victim
    others = {n: rows[n].pid for n in SERVICES if n != victim}
    restarted = _cli("stack", "up")
    assert restarted.returncode == 0, restarted.stderr
    rows = {r.name: r for r in manager.status(cfg)}
    assert all(r.up for r in rows.values())
    assert rows[victim].pid not in (None, pid)
    assert {n: rows[n].pid for n in others} == others
