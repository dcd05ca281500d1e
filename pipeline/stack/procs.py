"""Supervision of the stack's background processes: start detached, pid files, liveness.

A process counts as running only if its pid file names a live, non-zombie process whose
command line still carries the marker we started it with (so a recycled pid is never
mistaken for our service, and a ``kill -9`` is seen at once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    """How to run one service process."""

    name: str
    argv: Sequence[str]
    marker: str
    log_file: Path
    pid_file: Path
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    inherit_env: bool = True  # False: ``env`` is the whole environment, not added to ours


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the state is the first field after the parenthesised command name
    return stat.rsplit(")", 1)[1].split()[0]


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
        )
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def is_running(pid: int | None, marker: str) -> bool:
    if pid is None:
        return False
    state = _proc_state(pid)
    if state is None or state in ("Z", "X"):
        return False
    return marker in _cmdline(pid)


def running_pid(spec: ProcessSpec) -> int | None:
    pid = read_pid(spec.pid_file)
    return pid if is_running(pid, spec.marker) else None


def start(spec: ProcessSpec) -> int:
    """Start ``spec`` detached in its own session unless it already runs; return its pid."""
    existing = running_pid(spec)
    if existing is not None:
        return existing
    spec.log_file.parent.mkdir(parents=True, exist_ok=True)
    spec.pid_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **spec.env} if spec.inherit_env else dict(spec.env)
    with spec.log_file.open("ab") as out:
        out.write(f"\n=== auditpipe stack: starting {spec.name} at {time.ctime()} ===\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(spec.argv),
            cwd=spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    spec.pid_file.write_text(f"{proc.pid}\n")
    _wait_visible(proc, spec.marker)
    log.info("started", extra={"service": spec.name, "pid": proc.pid})
    return proc.pid


def _wait_visible(proc: subprocess.Popen[bytes], marker: str, timeout_s: float = 5.0) -> None:
    """Return once ``/proc`` shows the new process with its marker, or it has exited.

    ``Popen`` returns as soon as the kernel closes the child's close-on-exec pipe, which happens
    early in ``execve``, before the new program's arguments are in place: for a moment
    ``/proc/<pid>/cmdline`` is empty, so a status check right after start saw no process (the
    "exited during start-up" reports and a flaky ``running_pid`` right after ``start``)."""
    deadline = time.monotonic() + timeout_s
    while not is_running(proc.pid, marker) and proc.poll() is None:
        if time.monotonic() > deadline:
            return  # the callers' own health checks report what follows
        time.sleep(0.005)


def stop(spec: ProcessSpec, timeout_s: float = 30.0) -> bool:
    """Stop the process group politely, then by force; return whether one was running."""
    pid = running_pid(spec)
    if pid is None:
        spec.pid_file.unlink(missing_ok=True)
        return False
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and is_running(pid, spec.marker):
        time.sleep(0.1)
    if is_running(pid, spec.marker):
        log.warning("did not stop in time, killing", extra={"service": spec.name, "pid": pid})
        signal_group(pid, signal.SIGKILL)
        while is_running(pid, spec.marker):
            time.sleep(0.05)
    spec.pid_file.unlink(missing_ok=True)
    return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group led by ``pid`` (our processes run in their own session), or
    the process alone when it leads none."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' if it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
