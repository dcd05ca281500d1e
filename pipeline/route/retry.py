"""Webhook delivery policy as pure logic: backoff with full jitter, and a circuit breaker.

Time is passed in (seconds, from any clock the caller keeps monotonic); randomness comes from
a ``random.Random`` the caller seeds. Written by hand because the libraries (tenacity, backoff,
pybreaker) wrap the call and read the clock themselves, which neither a faust agent nor a
test of simulated time can use; the logic is a few lines.

Backoff is AWS's "full jitter": attempt ``n`` (0-based) waits ``uniform(0, min(cap, base*2**n))``.
The breaker opens after ``failure_threshold`` consecutive failures, stays open for
``cool_down_s``, then lets ``half_open_max`` trial calls through: a success closes it, a failure
opens it again. Its state is a :class:`BreakerRecord`, persisted with the router's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Literal

from pipeline.errors import StateRecordError
from pipeline.records import Fields, Record, as_map

BreakerState = Literal["closed", "open", "half_open"]
_STATES: dict[str, BreakerState] = {"closed": "closed", "open": "open", "half_open": "half_open"}


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """A circuit breaker's state: ``opened_at`` in the caller's clock (seconds)."""

    state: BreakerState = "closed"
    failures: int = 0
    opened_at: float | None = None
    trials: int = 0

    def encode(self) -> Record:
        return {
            "state": self.state,
            "failures": self.failures,
            "opened_at": self.opened_at,
            "trials": self.trials,
        }

    @classmethod
    def decode(cls, doc: object) -> BreakerRecord:
        f = Fields(doc, "BreakerRecord")
        state = _STATES.get(f.text("state"))
        if state is None:
            raise StateRecordError(f"BreakerRecord.state: unknown value {f.raw('state')!r}")
        opened_at = f.opt_number("opened_at")
        if state == "open" and opened_at is None:
            raise StateRecordError("BreakerRecord.opened_at: an open breaker needs it")
        return cls(state, f.integer("failures"), opened_at, f.integer("trials"))


def encode_breakers(breakers: dict[str, BreakerRecord]) -> Record:
    """The breakers record: receiver name -> breaker state."""
    return {name: b.encode() for name, b in breakers.items()}


def decode_breakers(doc: object) -> dict[str, BreakerRecord]:
    return as_map(doc, "breakers", lambda v, _p: BreakerRecord.decode(v))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("need max_attempts >= 1 and 0 < base_s <= cap_s")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt ``attempt`` (0-based)."""
        return min(self.cap_s, self.base_s * float(2 ** min(attempt, 62)))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt ``attempt``, drawn in [0, ceiling]."""
        return rng.uniform(0.0, self.ceiling(attempt))

    def should_retry(self, attempt: int, status: int | None) -> bool:
        """Retry a network error (``status`` None), 408, 425, 429 or 5xx, while attempts remain."""
        if attempt + 1 >= self.max_attempts:
            return False
        return status is None or status in (408, 425, 429) or 500 <= status <= 599


def retry_policy_for(max_retries: int, timeout_s: float) -> RetryPolicy:
    """The policy of a webhook receiver: ``max_retries`` after the first attempt."""
    return RetryPolicy(max_attempts=max_retries + 1, base_s=0.5, cap_s=max(timeout_s * 6, 1.0))


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        cool_down_s: float = 30.0,
        half_open_max: int = 1,
        *,
        state: BreakerRecord | None = None,
    ) -> None:
        if failure_threshold < 1 or cool_down_s <= 0 or half_open_max < 1:
            raise ValueError("need failure_threshold >= 1, cool_down_s > 0, half_open_max >= 1")
        self.failure_threshold = failure_threshold
        self.cool_down_s = cool_down_s
        self.half_open_max = half_open_max
        self._s = state if state is not None else BreakerRecord()

    def state(self, now: float) -> BreakerState:
        """The state at ``now`` (an open breaker turns half-open once the cool-down passed)."""
        s = self._s
        if s.state == "open" and s.opened_at is not None and now - s.opened_at >= self.cool_down_s:
            self._s = replace(s, state="half_open", trials=0)
        return self._s.state

    def allow(self, now: float) -> bool:
        """Whether a call may go out now; in half-open this takes one of the trial slots."""
        state = self.state(now)
        if state == "closed":
            return True
        if state == "half_open" and self._s.trials < self.half_open_max:
            self._s = replace(self._s, trials=self._s.trials + 1)
            return True
        return False

    def record_success(self, now: float) -> None:
        self._s = BreakerRecord()

    def record_failure(self, now: float) -> None:
        state = self.state(now)
        failures = self._s.failures + 1
        if state == "half_open" or failures >= self.failure_threshold:
            self._s = BreakerRecord("open", failures, now, 0)
        else:
            self._s = replace(self._s, failures=failures)

    @property
    def record(self) -> BreakerRecord:
        """The current state, to persist."""
        return self._s
