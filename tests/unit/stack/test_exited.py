"""`manager._exited`: a service counts as exited only when several looks agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.stack import manager, procs

SPEC = procs.ProcessSpec(
    name="svc", argv=["true"], marker="m", log_file=Path("x.log"), pid_file=Path("x.pid")
)


def _looks(monkeypatch: pytest.MonkeyPatch, answers: list[int | None]) -> list[int | None]:
    seen: list[int | None] = []

    def running_pid(_spec: procs.ProcessSpec) -> int | None:
        seen.append(answers[len(seen)])
        return seen[-1]

    monkeypatch.setattr(procs, "running_pid", running_pid)
    return seen


def test_a_moment_without_the_process_is_not_an_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _looks(monkeypatch, [None, 4242])
    assert manager._exited(SPEC, gap_s=0) is False
    assert seen == [None, 4242]


def test_gone_on_every_look_is_an_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _looks(monkeypatch, [None, None, None])
    assert manager._exited(SPEC, gap_s=0) is True
    assert len(seen) == 3


def test_running_is_answered_at_the_first_look(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _looks(monkeypatch, [4242])
    assert manager._exited(SPEC, gap_s=0) is False
    assert seen == [4242]
