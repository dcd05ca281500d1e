"""Waiting out a dependency (broker, S3 region, schema registry) that is down, backing off,
instead of exiting or skipping (found by the e2e run, tests/e2e): ``wait_for`` at a worker's
start-up (workers restarted during an outage exited at once, and a supervisor restarted them in
a loop), ``retry_until_stopped`` for one record in a running loop (a registry outage
dead-lettered good records in the sanitizer and skipped them in the detector)."""

from __future__ import annotations

import logging
import threading
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


class Stopped(Exception):
    """The worker was asked to stop while a record waited for a dependency: leave without
    committing (the record is read again after a restart)."""


def retry_until_stopped(
    call: Callable[[], T],
    retry_on: tuple[type[BaseException], ...],
    stop: threading.Event,
    *,
    what: str,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """``call()``, retried while it raises one of ``retry_on`` (backoff doubling from 0.4 s up
    to 5 s; a warning on the first try and every tenth) until it succeeds; ``Stopped`` when
    ``stop`` is set meanwhile."""
    attempt = 0
    while True:
        try:
            return call()
        except retry_on as exc:
            attempt += 1
            if on_retry is not None:
                on_retry()
            if attempt == 1 or attempt % 10 == 0:
                log.warning(
                    "a dependency is unavailable; retrying the record",
                    extra={"what": what, "error": type(exc).__name__, "attempt": attempt},
                )
            if stop.wait(min(5.0, 0.2 * 2**attempt)):
                raise Stopped from exc
