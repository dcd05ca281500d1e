"""Process supervision with real child processes (no services needed)."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from pathlib import Path

from pipeline.stack import procs


def _spec(tmp_path: Path) -> procs.ProcessSpec:
    marker = f"auditpipe-test-{uuid.uuid4().hex}"
    return procs.ProcessSpec(
        name="sleeper",
        argv=[
            sys.executable,
            "-c",
            "import time, sys; print('ready', flush=True); time.sleep(60)",
            marker,
        ],
        marker=marker,
        log_file=tmp_path / "logs" / "sleeper.log",
        pid_file=tmp_path / "run" / "sleeper.pid",
    )


def _wait_dead(pid: int, marker: str) -> None:
    deadline = time.monotonic() + 5
    while procs.is_running(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_start_is_idempotent_and_stop_stops(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    pid = procs.start(spec)
    try:
        assert procs.running_pid(spec) == pid
        assert procs.start(spec) == pid  # already running: same process
        deadline = time.monotonic() + 5
        while "ready" not in procs.tail(spec.log_file) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "ready" in procs.tail(spec.log_file)
    finally:
        assert procs.stop(spec) is True
    assert procs.running_pid(spec) is None
    assert not spec.pid_file.exists()
    assert procs.stop(spec) is False


def test_kill_9_is_seen(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    pid = procs.start(spec)
    os.kill(pid, signal.SIGKILL)
    _wait_dead(pid, spec.marker)
    assert procs.running_pid(spec) is None
    assert spec.pid_file.exists()  # the stale pid file is how status knows it was killed
    procs.stop(spec)


def test_recycled_pid_without_marker_is_not_ours(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec.pid_file.parent.mkdir(parents=True)
    spec.pid_file.write_text(f"{os.getpid()}\n")  # a live process, but not the service
    assert procs.running_pid(spec) is None
    assert procs.read_pid(spec.pid_file) == os.getpid()


def test_tail_of_missing_file_is_empty(tmp_path: Path) -> None:
    assert procs.tail(tmp_path / "nope.log") == ""
