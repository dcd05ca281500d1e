"""The supervisor on real child processes: the webhook receiver as the stage (needs no services).

Start, readiness, kill -9, restart, ordered stop, and nothing left in /proc afterwards."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.errors import StackError
from pipeline.runall.supervisor import StageSpec, Supervisor, command, marker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _receiver(name: str, tmp: Path) -> StageSpec:
    port = _free_port()
    return StageSpec(
        name,
        (
            "run",
            "webhook-receiver",
            "--port",
            str(port),
            "--secret-file",
            str(tmp / "secret"),
            "--out",
            str(tmp / f"{name}.jsonl"),
        ),
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )


def _with_marker(name: str) -> list[int]:
    """Live (non-zombie) processes whose command line carries the stage's marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker(name) in cmd and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


@pytest.fixture
def sup(tmp_path: Path) -> Iterator[Supervisor]:
    (tmp_path / "secret").write_text("test-secret")
    tag = tmp_path.name[-12:]
    s = Supervisor(
        [_receiver(f"a-{tag}", tmp_path), _receiver(f"b-{tag}", tmp_path)],
        logs_dir=tmp_path / "logs",
        run_dir=tmp_path / "run",
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        stop_order=[f"b-{tag}", f"a-{tag}"],
    )
    yield s
    s.stop_all(timeout_s=10)


def test_command_carries_the_marker() -> None:
    argv = command(StageSpec("x", ("run", "sanitizer")), python="py")
    assert argv == ["py", "-X", "auditpipe.stage=x", "-m", "pipeline.cli.main", "run", "sanitizer"]
    assert marker("x") in " ".join(argv) + " "
    assert marker("x") not in " ".join(command(StageSpec("xy", ()), python="py")) + " "


def test_specs_are_checked() -> None:
    spec = StageSpec("a", ())
    with pytest.raises(ValueError, match="twice"):
        Supervisor([spec, spec], logs_dir=Path("/x"), run_dir=Path("/x"))
    with pytest.raises(ValueError, match="unknown"):
        Supervisor([spec], logs_dir=Path("/x"), run_dir=Path("/x"), stop_order=["b"])
    sup = Supervisor(
        [spec, StageSpec("b", ()), StageSpec("c", ())],
        logs_dir=Path("/x"),
        run_dir=Path("/x"),
        stop_order=["b"],
    )
    assert sup.stop_order == ["b", "c", "a"]
    with pytest.raises(StackError, match="unknown stage"):
        sup.pid("nope")


def test_start_ready_kill_restart_stop(sup: Supervisor) -> None:
    a, b = sup.names
    pid_a = sup.start(a)
    assert sup.start(a) == pid_a  # already running: adopted, not started twice
    sup.start(b)
    sup.wait_all_ready(timeout_s=60)
    assert [s.running for s in sup.status()] == [True, True]
    assert sup.log_file(a).exists()

    assert sup.exit_code(a) is None
    sup.kill(a, wait=True)  # kill -9
    assert sup.exit_code(a) == -signal.SIGKILL
    assert not sup.alive(a)
    assert sup.dead() == [a]
    with pytest.raises(StackError, match="exited"):
        sup.check()
    with pytest.raises(StackError, match="exited during start-up"):
        sup.wait_ready(a, timeout_s=1)
    assert not os.path.exists(f"/proc/{pid_a}")  # reaped: no zombie left behind

    new = sup.restart(a)
    assert new != pid_a
    assert sup.exit_code(a) is None
    sup.wait_ready(a, timeout_s=60)
    sup.check()

    assert sup.stop_all(timeout_s=20) == [b, a]  # the stop order
    assert sup.dead() == []
    assert _with_marker(a) == []
    assert _with_marker(b) == []
    assert sup.stop_all() == []


def test_kill_with_sigterm_stops_politely(sup: Supervisor) -> None:
    a = sup.names[0]
    pid = sup.start(a)
    sup.wait_ready(a, timeout_s=60)
    sup.kill(a, signal.SIGTERM, wait=True)
    assert not sup.alive(a)
    assert sup.exit_code(a) == 0  # the receiver ends cleanly on SIGTERM
    assert not os.path.exists(f"/proc/{pid}")


def _until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_watcher_restarts_a_crash_and_books_it_but_not_a_bounce(sup: Supervisor) -> None:
    a, b = sup.names
    for name in (a, b):
        sup.start(name)
    sup.wait_all_ready(timeout_s=60)
    sup.watch(restart_delay_s=0.1, every_s=0.1)

    first = sup.pid(a)
    new = sup.bounce(a, down_s=0.3)  # kill -9, down 0.3 s, started again: not a crash
    assert new is not None
    assert new != first
    assert sup.book.kills == Counter({a: 1})

    crashing = sup.pid(b)
    assert crashing is not None
    os.killpg(crashing, signal.SIGKILL)  # an exit the supervisor did not cause
    assert _until(lambda: sup.book.crashes[b] == 1 and sup.alive(b))
    assert sup.pid(b) != crashing
    sup.wait_ready(b, timeout_s=60)
    assert sup.book.exit_codes == [(b, -signal.SIGKILL)]
    assert sup.book.crash_tails[0].startswith(f"{b} exited -9:")
    time.sleep(0.5)  # a few more rounds of the watcher: booked once
    assert sup.book.crashes == Counter({b: 1})
    assert sup.pid(a) == new

    sup.kill(a)  # killed without a restart: stays down, not a crash
    time.sleep(0.5)
    assert not sup.alive(a)
    assert sup.book.kills == Counter({a: 2})
    assert sup.stop_all(timeout_s=20) == [b]
    assert sup.book.crashes == Counter({b: 1})
    assert sup.bounce(a) is None  # not running: nothing to bounce
