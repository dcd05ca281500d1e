"""Supervise the pipeline's stages as child processes: start, kill, restart, readiness, stop.

Usage (the API is stable: the fault-injection tests drive it)::

    from pipeline.runall.supervisor import StageSpec, Supervisor

    sup = Supervisor(
        [
            StageSpec("sanitizer", ("run", "sanitizer"), ready_url="http://127.0.0.1:9401/readyz"),
            StageSpec("archiver-us-east-1", ("run", "archiver", "--region", "us-east-1")),
        ],
        logs_dir=settings.stack.logs_dir,          # one log per stage: <log_prefix><name>.log
        run_dir=settings.stack.run_dir / "mine",   # one pid file per stage: <name>.pid
        env={"AUDITPIPE_HMAC_KEY": "..."},         # added to os.environ for every stage
        stop_order=["sanitizer", "archiver-us-east-1"],  # default: the order of the specs
        log_prefix="run-",                         # the default
        # inherit_env=False: ``env`` is the stages' whole environment (not added to ours)
        # cwd=Path(...): the stages' working directory (default: ours)
    )
    sup.start("sanitizer")            # -> pid; a no-op returning the pid if it already runs
    sup.wait_ready("sanitizer")       # GET ready_url until 200 (or: alive), else StackError
    sup.kill("sanitizer")             # SIGKILL (default) or any signal to its process group
    sup.restart("sanitizer")          # stop politely (if alive) and start again -> new pid
    sup.bounce("sanitizer", down_s=2) # kill -9, stay down 2 s, start again -> new pid
    sup.watch(restart_delay_s=1.0)    # a thread restarting a stage that exits on its own
    sup.book                          # kills, crashes (exits not ordered), exit codes, log tails
    sup.stop_all()                    # SIGTERM each running stage in stop order, wait, SIGKILL

- Two supervisors must not share a ``run_dir`` (the second would adopt, and then stop, the
  first one's stages). ``auditpipe run all`` uses ``<stack home>/run/run-all``, the demo
  ``<stack home>/run/demo``.
- ``StageSpec.argv`` is what follows ``auditpipe`` (``("run", "router", "--config", F)``);
  ``StageSpec.env`` is added to the supervisor's env for that stage only.
- :meth:`Supervisor.start` / :meth:`~Supervisor.restart` return the pid;
  :meth:`~Supervisor.stop` and :meth:`~Supervisor.stop_all` stop politely (SIGTERM to the
  stage's process group, then SIGKILL after ``timeout_s``); ``stop_all`` goes through
  ``stop_order`` (default: the order of the specs) and returns the names it stopped.
- :meth:`~Supervisor.kill` sends a signal without waiting (``wait=True``: until the process is
  gone); the stage stays down until started again. :meth:`~Supervisor.bounce` kills (-9 by
  default), waits ``down_s`` and starts the stage again (None if it was not running).
- :meth:`~Supervisor.watch` starts a watcher thread (``auditpipe run all`` polls
  :meth:`~Supervisor.dead` instead, with its own restart limit): every ``every_s`` it looks for
  a started stage that is no longer running although the supervisor did not end it
  (``kill``, ``bounce``, ``stop``), books it as a crash in :attr:`Supervisor.book` (exit code
  and the last lines of its log) and starts it again after ``restart_delay_s``. ``stop_all``
  ends the watcher first. The book counts kills too (each signal ``kill`` and ``bounce`` sent).
- :meth:`~Supervisor.wait_ready` raises :class:`~pipeline.errors.StackError` (with the log's
  path) if the stage exits or is not ready within ``timeout_s``. For a pipeline stage the
  ``ready_url`` is its own ``/readyz`` (``AUDITPIPE_HEALTH__PORT``): its consumer group is
  stable with members. Right after a kill -9 the dead member may still count until the group's
  session timeout (``AUDITPIPE_KAFKA__SESSION_TIMEOUT_MS``, 10 s), so "ready" then means the
  new process serves and the group is stable, not yet that it holds partitions.
- :meth:`~Supervisor.pid`, :meth:`~Supervisor.alive`, :meth:`~Supervisor.status`,
  :meth:`~Supervisor.log_file`, :meth:`~Supervisor.check` (StackError naming the first stage
  that was started and is no longer running), :meth:`~Supervisor.dead` (those stages' names),
  :meth:`~Supervisor.exit_code` (of a stage started by this supervisor that ended: its exit
  status, ``-N`` for signal N; None while it runs or when unknown).

Every stage runs detached in its own session (a Ctrl-C in the terminal reaches only the
supervisor, which then stops the stages in order). A stage counts as running only if its pid
file names a live process whose command line carries the stage's marker
(``-X auditpipe.stage=<name>``), as :mod:`pipeline.stack.procs` checks for the stack's
services: a recycled pid is never taken for a stage, and a stage left running by a supervisor
that was itself killed is adopted by the next one (``start`` returns its pid).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import StackError
from pipeline.stack import procs

log = logging.getLogger(__name__)

MARKER_OPTION = "auditpipe.stage"


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``auditpipe <argv...>``; ready when ``ready_url`` answers 200 (no URL:
    as soon as it runs)."""

    name: str
    argv: tuple[str, ...]
    ready_url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StageStatus:
    name: str
    pid: int | None
    log: Path

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass
class StageBook:
    """What happened to the stages: kills sent, and crashes (exits the supervisor did not
    cause) with their exit codes and the last lines of the stage's log."""

    kills: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    exit_codes: list[tuple[str, int | None]] = field(default_factory=list)
    crash_tails: list[str] = field(default_factory=list)


def marker(name: str) -> str:
    """The text a stage's command line carries (``/proc/<pid>/cmdline``, NULs read as spaces)."""
    return f"{MARKER_OPTION}={name} "


def command(spec: StageSpec, python: str = sys.executable) -> list[str]:
    """The stage's argv: the interpreter, the marker option, then ``auditpipe`` and its args."""
    return [python, "-X", f"{MARKER_OPTION}={spec.name}", "-m", "pipeline.cli.main", *spec.argv]


class Supervisor:
    """The stages given, by name; see the module docstring for the API."""

    def __init__(
        self,
        stages: Iterable[StageSpec],
        *,
        logs_dir: Path,
        run_dir: Path,
        env: Mapping[str, str] | None = None,
        stop_order: Sequence[str] | None = None,
        python: str = sys.executable,
        log_prefix: str = "run-",
        inherit_env: bool = True,
        cwd: Path | None = None,
    ) -> None:
        self.specs: dict[str, StageSpec] = {}
        for spec in stages:
            if spec.name in self.specs:
                raise ValueError(f"stage {spec.name!r} given twice")
            self.specs[spec.name] = spec
        self.logs_dir = logs_dir
        self.run_dir = run_dir
        self.env = dict(env or {})
        order = list(stop_order) if stop_order is not None else list(self.specs)
        unknown = [n for n in order if n not in self.specs]
        if unknown:
            raise ValueError(f"stop order names unknown stages: {', '.join(unknown)}")
        # stages the order leaves out stop last, in reverse start order
        self.stop_order = order + [n for n in reversed(self.specs) if n not in order]
        self.python = python
        self.log_prefix = log_prefix
        self.inherit_env = inherit_env
        self.cwd = cwd
        self.book = StageBook()
        self._started: set[str] = set()
        self._held: set[str] = set()  # killed on purpose: not a crash
        self._booked: set[str] = set()  # exited on its own, booked as a crash
        self._pids: dict[str, int] = {}
        self._exit: dict[str, int] = {}
        self._lock = threading.RLock()
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # --- what runs ------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Stage names in start order."""
        return list(self.specs)

    def log_file(self, name: str) -> Path:
        self._spec(name)
        return self.logs_dir / f"{self.log_prefix}{name}.log"

    def pid(self, name: str) -> int | None:
        """The stage's pid if it is running (else None)."""
        return procs.running_pid(self._process(name))

    def alive(self, name: str) -> bool:
        return self.pid(name) is not None

    def status(self) -> list[StageStatus]:
        return [StageStatus(n, self.pid(n), self.log_file(n)) for n in self.specs]

    def dead(self) -> list[str]:
        """Stages this supervisor started (and did not stop) that no longer run."""
        out = [n for n in self.specs if n in self._started and not self.alive(n)]
        for name in out:
            self._collect(name)
        return out

    def exit_code(self, name: str) -> int | None:
        """How the stage's last process ended (``-N``: killed by signal N); None while it runs,
        or when it was not our child (adopted)."""
        self._spec(name)
        if not self.alive(name):
            self._collect(name)
        return self._exit.get(name)

    def check(self) -> None:
        """Raise StackError for the first started stage that is no longer running."""
        for name in self.dead():
            raise StackError(
                "exited:\n" + procs.tail(self.log_file(name), 15),
                service=name,
                log=self.log_file(name),
            )

    # --- control ----------------------------------------------------------------------------
    def start(self, name: str) -> int:
        """Start the stage unless it runs already; return its pid."""
        with self._lock:
            pid = procs.start(self._process(name))
            if self._pids.get(name) != pid:
                self._exit.pop(name, None)
            self._pids[name] = pid
            self._started.add(name)
            self._held.discard(name)
            self._booked.discard(name)
            return pid

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, *, wait: bool = False) -> None:
        """Send ``sig`` to the stage's process group (nothing if it is not running). With
        ``wait``, return once the process is gone (for SIGKILL, at once)."""
        with self._lock:
            pid = self.pid(name)
            if pid is None:
                return
            self._held.add(name)
            procs.signal_group(pid, sig)
            self.book.kills[name] += 1
        if wait:
            spec = self._process(name)
            while procs.is_running(pid, spec.marker):
                time.sleep(0.02)
            self._collect(name, block=True)
        else:
            self._collect(name)

    def bounce(
        self, name: str, down_s: float = 0.0, sig: signal.Signals = signal.SIGKILL
    ) -> int | None:
        """Kill the stage (wait until it is gone), keep it down ``down_s``, start it again;
        the new pid (None: it was not running, or it was stopped meanwhile)."""
        if not self.alive(name):
            return None
        self.kill(name, sig, wait=True)
        self._watch_stop.wait(down_s)  # cut short by stop_all
        with self._lock:
            if name not in self._started or name not in self._held:
                return None  # stopped, or started by someone else meanwhile
            return self.start(name)

    def stop(self, name: str, timeout_s: float = 60.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout_s``; whether it was running."""
        with self._lock:
            self._started.discard(name)  # first: neither the watcher nor a bounce restarts it
            pid = self.pid(name)
        stopped = procs.stop(self._process(name), timeout_s)
        if pid is not None:
            self._collect(name, block=True)
        return stopped

    def restart(self, name: str, timeout_s: float = 60.0) -> int:
        """Stop the stage if it runs, then start it; the new pid."""
        self.stop(name, timeout_s)
        return self.start(name)

    def stop_all(self, timeout_s: float = 60.0) -> list[str]:
        """Stop every running stage, one after the other in ``stop_order``; the names stopped
        (the watcher, if any, ends first)."""
        self._watch_stop.set()  # also wakes a bounce in its down time
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout_s)
        self._watcher = None
        try:
            return [name for name in self.stop_order if self.stop(name, timeout_s)]
        finally:
            self._watch_stop.clear()

    def wait_ready(self, name: str, timeout_s: float = 180.0, poll_s: float = 0.5) -> None:
        """Return once the stage is ready; StackError if it exits or times out first."""
        spec = self._spec(name)
        deadline = time.monotonic() + timeout_s
        last = "not probed yet"
        while True:
            if not self.alive(name):
                raise StackError(
                    "exited during start-up:\n" + procs.tail(self.log_file(name), 15),
                    service=name,
                    log=self.log_file(name),
                )
            if spec.ready_url is None:
                return
            ok, last = probe(spec.ready_url)
            if ok:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"not ready after {timeout_s:.0f}s ({last})",
                    service=name,
                    log=self.log_file(name),
                )
            time.sleep(poll_s)

    def wait_all_ready(self, timeout_s: float = 180.0) -> None:
        """``wait_ready`` of every started stage, sharing one deadline."""
        deadline = time.monotonic() + timeout_s
        for name in self.specs:
            if name in self._started:
                self.wait_ready(name, max(1.0, deadline - time.monotonic()))

    # --- the watcher --------------------------------------------------------------------------
    def watch(self, restart_delay_s: float = 1.0, every_s: float = 0.5) -> None:
        """Start the watcher thread (see the module docstring); once per supervisor."""
        if self._watcher is not None:
            raise RuntimeError("the watcher runs already")
        self._watch_stop.clear()
        self._watcher = threading.Thread(
            target=self._watch_loop,
            args=(restart_delay_s, every_s),
            name="stage-watch",
            daemon=True,
        )
        self._watcher.start()

    def _watch_loop(self, restart_delay_s: float, every_s: float) -> None:
        while not self._watch_stop.wait(every_s):
            for name in self.specs:
                if self._crashed(name) and self._watch_stop.wait(restart_delay_s):
                    return
                with self._lock:
                    if name not in self._booked or name not in self._started:
                        continue
                    try:
                        self.start(name)
                    except OSError as exc:  # booked already; tried again next round
                        log.error(
                            "stage restart failed",
                            extra={"stage": name, "error": type(exc).__name__},
                        )

    def _crashed(self, name: str) -> bool:
        """Book the stage as crashed if it exited without being told to (whether it was)."""
        with self._lock:
            if name not in self._started or name in self._held or name in self._booked:
                return False
            if self.alive(name):
                return False
            code = self.exit_code(name)
            self.book.crashes[name] += 1
            self.book.exit_codes.append((name, code))
            self.book.crash_tails.append(
                f"{name} exited {code}:\n{procs.tail(self.log_file(name), 15)}"
            )
            self._booked.add(name)  # once; start() (the restart) clears it
        log.warning("stage exited on its own; restarting", extra={"stage": name, "code": code})
        return True

    # --- internals --------------------------------------------------------------------------
    def _spec(self, name: str) -> StageSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise StackError(
                f"unknown stage; choose one of {', '.join(self.specs)}", service=name
            ) from None

    def _collect(self, name: str, *, block: bool = False) -> None:
        with self._lock:
            pid = self._pids.get(name)
            if pid is not None and name not in self._exit:
                code = _reap(pid, block=block)
                if code is not None:
                    self._exit[name] = code

    def _process(self, name: str) -> procs.ProcessSpec:
        spec = self._spec(name)
        return procs.ProcessSpec(
            name=name,
            argv=command(spec, self.python),
            marker=marker(name),
            log_file=self.log_file(name),
            pid_file=self.run_dir / f"{name}.pid",
            cwd=self.cwd,
            env={**self.env, **spec.env},
            inherit_env=self.inherit_env,
        )


def probe(url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    """GET ``url``: (200?, a short reason)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (loopback)
            return resp.status == 200, f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return False, type(exc).__name__


def _reap(pid: int, *, block: bool = False) -> int | None:
    """Collect the exit status of a child of ours that ended (no zombie left in /proc); its
    exit code, or None. ``block`` only once the process is known to be dead; a pid that is not
    our child (a stage adopted from an earlier supervisor) is left to its own parent."""
    try:
        got, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if got == pid else None
