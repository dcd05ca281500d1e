"""A worker's start-up while a dependency (broker, S3 region, registry) is down: wait for it,
backing off, instead of exiting (found by the e2e run, tests/e2e: workers restarted during an
outage exited at once, and a supervisor restarted them in a loop)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def wait_for(
    call: Callable[[], T],
    retry_on: tuple[type[BaseException], ...],
    *,
    what: str,
    cap_s: float = 10.0,
    give_up_s: float | None = None,
) -> T:
    """``call()``, retried while it raises one of ``retry_on`` (backoff doubling from 0.5 s up
    to ``cap_s``); ``give_up_s`` bounds the wait (None: until it answers)."""
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            return call()
        except retry_on as exc:
            if give_up_s is not None and time.monotonic() - start > give_up_s:
                raise
            attempt += 1
            log.warning(
                "unreachable at start-up; waiting",
                extra={"what": what, "error": type(exc).__name__, "attempt": attempt},
            )
            time.sleep(min(cap_s, 0.25 * 2**attempt))
