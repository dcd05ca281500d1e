"""`auditpipe stack up|down|status|logs`: orchestration of the local stack's services."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import StackError
from pipeline.stack import fetch, procs
from pipeline.stack.config import StackConfig
from pipeline.stack.services import Service, all_services, port_open

Report = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # "up", "down", or "starting" (process alive but not healthy yet)
    pid: int | None
    listens: str
    detail: str
    log: Path

    @property
    def up(self) -> bool:
        return self.state == "up"


def _noop(_: str) -> None:
    return None


def status(cfg: StackConfig) -> list[ServiceStatus]:
    """The truth about each service: its process must be alive *and* its health check pass."""
    out = []
    for svc in all_services(cfg):
        spec = svc.spec() if _can_spec(cfg, svc) else None
        pid = procs.running_pid(spec) if spec else None
        log = cfg.logs_dir / f"{svc.name}.log"
        if pid is None:
            state, detail = "down", "no process"
            if spec and spec.pid_file.exists():
                detail = "process gone (crashed or killed)"
            elif any(port_open(cfg.host, p) for p in svc.ports):
                detail = "no process of ours, but its port is taken by another program"
        else:
            health = svc.health()
            state, detail = ("up" if health.ok else "starting"), health.detail
        out.append(ServiceStatus(svc.name, state, pid, svc.listens, detail, log))
    return out


def _can_spec(cfg: StackConfig, svc: Service) -> bool:
    try:
        svc.spec()
    except StackError:
        return False
    return True


def up(cfg: StackConfig, report: Report = _noop) -> list[ServiceStatus]:
    """Fetch what is missing, start every service that is not running, wait until healthy."""
    cfg.root.mkdir(parents=True, exist_ok=True)
    fetch.fetch_all(cfg, report)
    services = all_services(cfg)
    started: list[str] = []
    for svc in services:
        spec = svc.spec()
        if procs.running_pid(spec) is not None:
            continue
        busy = [p for p in svc.ports if port_open(cfg.host, p)]
        if busy:
            raise StackError(
                f"port {busy[0]} on {cfg.host} is taken by another program; stop it or "
                f"choose other ports (AUDITPIPE_STACK__... settings)",
                service=svc.name,
            )
        svc.prepare()
        procs.start(svc.spec())
        started.append(svc.name)
        report(f"started {svc.name}")
    _wait_healthy(cfg, services, report)
    for svc in services:
        svc.after_start()
    return status(cfg)


def _exited(spec: procs.ProcessSpec, looks: int = 3, gap_s: float = 0.2) -> bool:
    """Not running on ``looks`` looks ``gap_s`` apart. One look is not enough: CI once saw a
    Kafka that went on to start normally reported as "exited during start-up" a second after
    it was launched (cause not pinned down; a process between fork and exec, or the JVM
    launcher, shows another command line for a moment)."""
    for i in range(looks):
        if procs.running_pid(spec) is not None:
            return False
        if i + 1 < looks:
            time.sleep(gap_s)
    return True


def _wait_healthy(cfg: StackConfig, services: list[Service], report: Report) -> None:
    deadline = time.monotonic() + cfg.start_timeout_s
    pending = {svc.name: svc for svc in services}
    while pending:
        for name, svc in list(pending.items()):
            spec = svc.spec()
            if _exited(spec):
                raise StackError(
                    "exited during start-up:\n" + procs.tail(spec.log_file, 15),
                    service=name,
                    log=spec.log_file,
                )
            health = svc.health()
            if health.ok:
                report(f"{name} is healthy at {svc.listens}")
                del pending[name]
        if not pending:
            return
        if time.monotonic() > deadline:
            name, svc = next(iter(pending.items()))
            raise StackError(
                f"not healthy after {cfg.start_timeout_s:.0f}s ({svc.health().detail})",
                service=name,
                log=svc.spec().log_file,
            )
        time.sleep(0.25)


def down(cfg: StackConfig, *, purge: bool = False, report: Report = _noop) -> None:
    """Stop every service (S3 and registry first, Kafka last); optionally delete their data."""
    for svc in reversed(all_services(cfg)):
        if not _can_spec(cfg, svc):
            continue
        if procs.stop(svc.spec()):
            report(f"stopped {svc.name}")
    if purge:
        for sub in ("kafka", "registry", "s3", "run", "secure"):
            shutil.rmtree(cfg.root / sub, ignore_errors=True)
        report(f"deleted service data under {cfg.root} (jars and binaries kept)")


def logs(cfg: StackConfig, service: str, lines: int = 50) -> str:
    names = [s.name for s in all_services(cfg)]
    if service not in names:
        raise StackError(f"unknown service; choose one of {', '.join(names)}", service=service)
    path = cfg.logs_dir / f"{service}.log"
    return procs.tail(path, lines)
