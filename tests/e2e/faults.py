"""The faults of an e2e run, at seeded random moments: kill -9 of each stage, the broker
stopped, one S3 region down, the webhook slow then failing, the registry down."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from pipeline.runall.receiver import Faults, Receiver
from pipeline.runall.supervisor import Supervisor
from pipeline.stack import procs
from pipeline.stack.services import Service
from tests.e2e.stack import PrivateStack

log = logging.getLogger(__name__)
SLOW_S = 1.5  # a slow webhook's answer time (the router's timeout is 2 s)


@dataclass(frozen=True)
class Fault:
    at_s: float  # after the start of the fault phase
    kind: str  # kill9 | broker | s3 | webhook | registry
    target: str
    hold_s: float  # how long it stays broken

    def describe(self) -> str:
        return f"t+{self.at_s:5.1f}s {self.kind:8s} {self.target:22s} {self.hold_s:4.1f}s"


def plan(
    rng: random.Random, workers: list[str], regions: list[str], window_s: float
) -> list[Fault]:
    """One of every fault, each at a random moment of ``window_s`` (the moments are sorted;
    a fault that would start while the previous one holds starts after it)."""
    faults = [Fault(0, "kill9", w, rng.uniform(0.0, 3.0)) for w in workers]
    faults.append(Fault(0, "broker", "kafka", rng.uniform(5.0, 15.0)))
    faults.append(Fault(0, "s3", rng.choice(regions), rng.uniform(10.0, 25.0)))
    faults.append(Fault(0, "webhook", "receiver", rng.uniform(8.0, 15.0)))
    faults.append(Fault(0, "registry", "schema-registry", rng.uniform(8.0, 15.0)))
    moments = sorted(rng.uniform(0, window_s) for _ in faults)
    rng.shuffle(faults)
    return [Fault(at, f.kind, f.target, f.hold_s) for at, f in zip(moments, faults, strict=True)]


@dataclass
class FaultLog:
    done: list[tuple[Fault, float, float]] = field(default_factory=list)  # fault, start, recovery
    errors: list[str] = field(default_factory=list)


class FaultRunner:
    """Runs plans, one fault at a time, in a thread of its own; ``stop()`` ends it after the
    fault at hand (everything is up again when it returns)."""

    def __init__(self, stack: PrivateStack, workers: Supervisor, receiver: Receiver) -> None:
        self.stack = stack
        self.workers = workers
        self.receiver = receiver
        self.log = FaultLog()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, plans: list[list[Fault]]) -> None:
        self._thread = threading.Thread(target=self._run, args=(plans,), name="faults")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, plans: list[list[Fault]]) -> None:
        for faults in plans:
            t0 = time.monotonic()
            for fault in faults:
                if self._stop.wait(max(0.0, t0 + fault.at_s - time.monotonic())):
                    return
                started = time.monotonic()
                try:
                    recovery = self.inject(fault)
                except Exception as exc:  # report, and go on with the next
                    self.log.errors.append(f"{fault.describe()}: {type(exc).__name__}: {exc}")
                    recovery = -1.0
                self.log.done.append((fault, started, recovery))
                print(f"[e2e] fault {fault.describe()} recovered in {recovery:.1f}s", flush=True)

    def inject(self, fault: Fault) -> float:
        """Break, hold, repair; the seconds the repair took (until healthy again)."""
        s = self.stack
        if fault.kind == "kill9":
            self.workers.bounce(fault.target, down_s=fault.hold_s)  # booked as a kill
            return 0.0
        if fault.kind == "webhook":
            self.receiver.faults = Faults(delay_s=SLOW_S)
            time.sleep(fault.hold_s / 2)
            self.receiver.faults = Faults(fail_status=503)
            time.sleep(fault.hold_s / 2)
            self.receiver.faults = Faults()
            return 0.0
        named: dict[str, Service] = {"broker": s.kafka, "registry": s.registry}
        svc = named.get(fault.kind)
        if svc is None:
            svc = s.s3[fault.target]
            procs.stop(svc.spec(), timeout_s=0.0)  # SIGTERM then SIGKILL at once: a crash
        else:
            procs.stop(svc.spec())
        time.sleep(fault.hold_s)
        return s.start(svc)
