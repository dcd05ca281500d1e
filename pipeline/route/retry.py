"""Webhook delivery policy as pure logic: backoff with full jitter, and a circuit breaker.

Time is passed in (seconds, from any clock the caller keeps monotonic); randomness comes from
a ``random.Random`` the caller seeds. Written by hand because the libraries (tenacity, backoff,
pybreaker) wrap the call and read the clock themselves, which neither a faust agent nor a
test of simulated time can use; the logic is a few lines.

Backoff is AWS's "full jitter": attempt ``n`` (0-based) waits ``uniform(0, min(cap, base*2**n))``.
The breaker opens after ``failure_threshold`` consecutive failures, stays open for
``cool_down_s``, then lets ``half_open_max`` trial calls through: a success closes it, a failure
opens it again. Its state is a JSON object so it can be persisted with the router's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

BreakerState = Literal["closed", "open", "half_open"]


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
        state: dict[str, Any] | None = None,
    ) -> None:
        if failure_threshold < 1 or cool_down_s <= 0 or half_open_max < 1:
            raise ValueError("need failure_threshold >= 1, cool_down_s > 0, half_open_max >= 1")
        self.failure_threshold = failure_threshold
        self.cool_down_s = cool_down_s
        self.half_open_max = half_open_max
        self._s: dict[str, Any] = (
            dict(state)
            if state
            else {
                "state": "closed",
                "failures": 0,
                "opened_at": None,
                "trials": 0,
            }
        )

    def state(self, now: float) -> BreakerState:
        """The state at ``now`` (an open breaker turns half-open once the cool-down passed)."""
        if self._s["state"] == "open" and now - self._s["opened_at"] >= self.cool_down_s:
            self._s.update(state="half_open", trials=0)
        state: BreakerState = self._s["state"]
        return state

    def allow(self, now: float) -> bool:
        """Whether a call may go out now; in half-open this takes one of the trial slots."""
        state = self.state(now)
        if state == "closed":
            return True
        if state == "half_open" and self._s["trials"] < self.half_open_max:
            self._s["trials"] += 1
            return True
        return False

    def record_success(self, now: float) -> None:
        self._s.update(state="closed", failures=0, opened_at=None, trials=0)

    def record_failure(self, now: float) -> None:
        state = self.state(now)
        self._s["failures"] += 1
        if state == "half_open" or self._s["failures"] >= self.failure_threshold:
            self._s.update(state="open", opened_at=now, trials=0)

    def to_json(self) -> dict[str, Any]:
        return dict(self._s)
