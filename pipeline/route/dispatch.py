"""Per-receiver delivery: one queue and one asyncio task per receiver, so a receiver that is
down (timeouts, 5xx, open breaker) only delays its own notifications.

A worker takes notifications in order and, for each request they turn into, attempts it,
retrying per the receiver's :class:`~pipeline.route.retry.RetryPolicy` (full-jitter backoff)
behind its :class:`~pipeline.route.retry.CircuitBreaker` (while the breaker is open, the worker
waits for the cool-down rather than spending attempts). Every attempt becomes one
``INTEGRATION``/``webhook.delivery`` audit event; the outcome of each notification is reported
to the stage, which removes it from the durable outbox.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from pydantic import SecretStr

from pipeline.errors import RetryableError
from pipeline.kafka.topicio import AsyncProducer
from pipeline.route import sender
from pipeline.route.config import KafkaReceiver, Receiver
from pipeline.route.delivery import delivery_event
from pipeline.route.grouping import Notification
from pipeline.route.payloads import encode, webhook_body
from pipeline.route.retry import CircuitBreaker, RetryPolicy
from pipeline.route.sender import Attempt, Request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    partition: int
    key: str  # the outbox key
    note: Notification


class Hooks(Protocol):
    """What a worker reports to the stage."""

    def audit(self, event: dict[str, Any]) -> None: ...

    def wanted(self, job: Job) -> bool: ...

    def tickets_done(self, job: Job) -> frozenset[str]: ...

    def finished(self, job: Job, delivered: bool, tickets: list[str]) -> None: ...

    def breaker_changed(self) -> None: ...


class Transport(Protocol):
    def requests(self, note: Notification, tickets_done: frozenset[str]) -> list[Request]: ...

    async def attempt(self, request: Request) -> Attempt: ...


class HttpTransport:
    def __init__(
        self, receiver: Receiver, session: aiohttp.ClientSession, environ: dict[str, str]
    ) -> None:
        self.receiver = receiver
        self.session = session
        self.environ = environ

    def requests(self, note: Notification, tickets_done: frozenset[str]) -> list[Request]:
        return sender.build_requests(self.receiver, note, self.environ, tickets_done=tickets_done)

    async def attempt(self, request: Request) -> Attempt:
        return await sender.attempt(self.session, request)


class KafkaTransport:
    """The ``kafka`` receiver: the webhook body on ``audit.notify.<receiver>``, keyed by the
    group's dedup key (one partition per incident, in order)."""

    def __init__(self, receiver: KafkaReceiver, producer: AsyncProducer) -> None:
        self.receiver = receiver
        self.producer = producer

    def requests(self, note: Notification, tickets_done: frozenset[str]) -> list[Request]:
        return [
            Request(
                url=SecretStr(self.receiver.topic_name),
                body=encode(webhook_body(note)),
                idempotency_key=note.id,
                dedup_key=note.dedup_key,
                timeout_s=30.0,
            )
        ]

    async def attempt(self, request: Request) -> Attempt:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                self.producer.send(
                    self.receiver.topic_name, request.dedup_key.encode(), request.body
                ),
                request.timeout_s,
            )
        except TimeoutError:
            return Attempt(False, None, (time.perf_counter() - started) * 1000, "timeout")
        except Exception as exc:  # a broker error: retried like a network error
            return Attempt(False, None, (time.perf_counter() - started) * 1000, type(exc).__name__)
        return Attempt(True, None, (time.perf_counter() - started) * 1000)


class ReceiverWorker:
    def __init__(
        self,
        receiver: Receiver,
        transport: Transport,
        *,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        hooks: Hooks,
        environment: str,
        run_id: str,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.receiver = receiver
        self.transport = transport
        self.policy = policy
        self.breaker = breaker
        self.hooks = hooks
        self.environment = environment
        self.run_id = run_id
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)
        self.queue: asyncio.Queue[Job] = asyncio.Queue()

    def submit(self, job: Job) -> None:
        self.queue.put_nowait(job)

    async def run(self) -> None:
        while True:
            job = await self.queue.get()
            if not self.hooks.wanted(job):  # its partition moved to another instance
                continue
            try:
                delivered, tickets = await self.deliver(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not kill the receiver's task: report, go on
                # the type only: an exception's text may hold a URL, and a URL may be a secret
                log.error(
                    "delivery failed",
                    extra={"receiver": self.receiver.name, "error": type(exc).__name__},
                )
                delivered, tickets = False, []
            self.hooks.finished(job, delivered, tickets)

    async def deliver(self, job: Job) -> tuple[bool, list[str]]:
        requests = self.transport.requests(job.note, self.hooks.tickets_done(job))
        delivered, tickets = True, []
        for request in requests:
            ok = await self._deliver_request(job, request)
            delivered = delivered and ok
            if ok and request.ticket_key is not None:
                tickets.append(request.ticket_key)
        return delivered, tickets

    async def _audit(self, event: dict[str, Any]) -> None:
        """Write the attempt's audit event, retrying while the SDK raises a retryable error (it
        spools the event when the broker or the registry is down). Raising instead ended the job as
        "delivery failed" and dropped it from the outbox, a notification the webhook may never
        have had, without its audit event (found by the e2e run, tests/e2e)."""
        attempt = 0
        while True:
            try:
                self.hooks.audit(event)
                return
            except RetryableError as exc:
                attempt += 1
                if attempt == 1 or attempt % 10 == 0:
                    log.warning(
                        "delivery audit event not written; retrying",
                        extra={"receiver": self.receiver.name, "error": type(exc).__name__},
                    )
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))

    async def _wait_for_breaker(self) -> None:
        while not self.breaker.allow(self.clock()):
            await asyncio.sleep(min(1.0, self.breaker.cool_down_s / 4))

    async def _deliver_request(self, job: Job, request: Request) -> bool:
        attempt = 0
        while True:
            await self._wait_for_breaker()
            result = await self.transport.attempt(request)
            if result.ok:
                self.breaker.record_success(self.clock())
            else:
                self.breaker.record_failure(self.clock())
            self.hooks.breaker_changed()
            retry = not result.ok and self.policy.should_retry(attempt, result.status)
            delay = self.policy.delay(attempt, self.rng) if retry else None
            await self._audit(
                delivery_event(
                    job.note,
                    receiver_type=self.receiver.type,
                    attempt=attempt + 1,
                    ts=datetime.now(UTC),
                    status_code=result.status,
                    latency_ms=result.latency_ms,
                    success=result.ok,
                    environment=self.environment,
                    error=result.error,
                    next_retry_s=delay,
                    attempt_id=f"{self.run_id}:{request.idempotency_key}",
                )
            )
            if result.ok:
                return True
            if delay is None:
                log.warning(
                    "delivery given up",
                    extra={"receiver": self.receiver.name, "attempts": attempt + 1},
                )
                return False
            await asyncio.sleep(delay)
            attempt += 1
