"""A small supervisor of the pipeline's workers for the e2e run: every stage is an
``auditpipe run <stage>`` process with its own log file and health port; a worker that dies
(killed by a fault, or crashing on its own) is started again, and every exit is counted.

(Another branch builds ``auditpipe run all`` with a supervisor of its own; this one is the
test's, to be folded into that one later.)"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


@dataclass
class Worker:
    name: str
    args: list[str]
    env: dict[str, str]
    log_file: Path
    health_port: int
    proc: subprocess.Popen[bytes] | None = None
    killed: bool = False  # the test killed it on purpose: not a crash
    starts: int = 0


@dataclass
class WorkerBook:
    crashes: Counter[str] = field(default_factory=Counter)  # exits the test did not cause
    kills: Counter[str] = field(default_factory=Counter)
    exit_codes: list[tuple[str, int]] = field(default_factory=list)
    crash_tails: list[str] = field(default_factory=list)  # each crash's last log lines


class Supervisor:
    """Start, watch, kill -9 and restart the workers."""

    def __init__(self, logs: Path, env: dict[str, str], restart_delay_s: float = 1.0) -> None:
        self.logs = logs
        self.env = env
        self.restart_delay_s = restart_delay_s
        self.workers: dict[str, Worker] = {}
        self.book = WorkerBook()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_loop, name="supervisor", daemon=True)

    def add(self, name: str, *args: str, env: dict[str, str] | None = None) -> Worker:
        port = free_port()
        worker = Worker(
            name,
            list(args),
            {**self.env, **(env or {}), "AUDITPIPE_HEALTH__PORT": str(port)},
            self.logs / f"{name}.log",
            port,
        )
        self.workers[name] = worker
        return worker

    def start_all(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for worker in self.workers.values():
            self._spawn(worker)
        self._watch.start()

    def _spawn(self, worker: Worker) -> None:
        with worker.log_file.open("ab") as out:
            worker.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli.main", "run", *worker.args],
                cwd=ROOT,
                env=worker.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker.starts += 1
        worker.killed = False

    def kill9(self, name: str, down_s: float = 0.0) -> None:
        """SIGKILL ``name``; it is started again after ``down_s`` (by the watcher)."""
        worker = self.workers[name]
        with self._lock:
            proc = worker.proc
            if proc is None or proc.poll() is not None:
                return
            worker.killed = True
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            self.book.kills[name] += 1
        if down_s:
            time.sleep(down_s)
        with self._lock:
            if worker.proc is proc and not self._stop.is_set():
                self._spawn(worker)

    def _watch_loop(self) -> None:
        while not self._stop.wait(0.5):
            for worker in self.workers.values():
                with self._lock:
                    proc = worker.proc
                    if proc is None or proc.poll() is None or worker.killed:
                        continue
                    code = proc.returncode
                    self.book.crashes[worker.name] += 1
                    self.book.exit_codes.append((worker.name, code))
                    self.book.crash_tails.append(
                        f"{worker.name} exited {code}:\n{_tail(worker.log_file)}"
                    )
                    log.warning("worker exited; restarting", extra={"worker": worker.name})
                time.sleep(self.restart_delay_s)
                with self._lock:
                    if worker.proc is proc and not self._stop.is_set():
                        self._spawn(worker)

    def alive(self) -> dict[str, bool]:
        return {n: w.proc is not None and w.proc.poll() is None for n, w in self.workers.items()}

    def metrics(self, name: str) -> str | None:
        """The worker's ``/metrics`` text (None while it does not answer)."""
        url = f"http://127.0.0.1:{self.workers[name].health_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                return str(resp.read().decode(errors="replace"))
        except OSError:
            return None

    def ready(self, name: str) -> bool:
        url = f"http://127.0.0.1:{self.workers[name].health_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                return int(resp.status) == 200
        except OSError:
            return False

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM every worker (the archivers write their open batches first) and wait."""
        self._stop.set()
        if self._watch.is_alive():
            self._watch.join(5)
        with self._lock:
            procs = [w.proc for w in self.workers.values() if w.proc is not None]
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def python_env() -> dict[str, str]:
    """This process's environment with the checkout first on the path (the workers import
    the same ``pipeline`` as the test)."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(log unreadable: {exc})"
