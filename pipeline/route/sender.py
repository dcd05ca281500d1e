"""HTTP delivery: the requests a notification becomes at each receiver type, and one attempt.

- **webhook**: the generic JSON body, signed (``X-Auditpipe-Signature: t=<unix>,v1=<hmac>``,
  re-signed at every attempt so the timestamp is fresh).
- **pagerduty**: an Events API v2 event; PagerDuty merges events by ``dedup_key``.
- **slack**: a Slack-compatible body to the incoming-webhook URL (the URL is the secret).
- **ticket**: one request per *new* alert ``dedup_key`` (``Authorization: Bearer <token>``).

Every request carries ``Idempotency-Key``: for a ticket the alert's ``dedup_key`` (one ticket
per dedup key, ever); otherwise the notification id, which is derived from the group's
``dedup_key``, the flush time and the status, so a retry or a re-send after a crash repeats
the key while a later *repeat* notification (a new page by design) gets its own.
``X-Auditpipe-Dedup-Key`` carries the group's dedup key as such.

Secrets and URLs live only in :class:`Request` objects; nothing here logs them. The HTTP client
is aiohttp (already a dependency of faust), one session per router.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from pydantic import SecretStr

from pipeline.route.config import (
    PagerDutyReceiver,
    Receiver,
    SlackReceiver,
    TicketReceiver,
    WebhookReceiver,
    resolve_secret,
)
from pipeline.route.grouping import Notification
from pipeline.route.payloads import (
    SIGNATURE_HEADER,
    encode,
    pagerduty_event,
    sign,
    slack_payload,
    ticket_bodies,
    webhook_body,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
DEDUP_HEADER = "X-Auditpipe-Dedup-Key"
USER_AGENT = "auditpipe-router/1"


@dataclass(frozen=True, kw_only=True)
class Request:
    """One HTTP POST to make (and retry). ``ticket_key`` is set for a ticket creation."""

    url: SecretStr
    body: bytes
    idempotency_key: str
    dedup_key: str
    timeout_s: float
    sign_with: SecretStr | None = None
    bearer: SecretStr | None = None
    ticket_key: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self, now_s: int) -> dict[str, str]:
        """Headers of an attempt at ``now_s`` (a fresh signature timestamp each time)."""
        out = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: self.idempotency_key,
            DEDUP_HEADER: self.dedup_key,
            **self.extra_headers,
        }
        if self.sign_with is not None:
            out[SIGNATURE_HEADER] = sign(self.body, self.sign_with.get_secret_value(), now_s)
        if self.bearer is not None:
            out["Authorization"] = f"Bearer {self.bearer.get_secret_value()}"
        return out


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt: ``status`` None when no HTTP response came back."""

    ok: bool
    status: int | None
    latency_ms: float
    error: str | None = None


DEFAULT_TIMEOUT_S = 10.0


def _timeout(receiver: Receiver) -> float:
    if isinstance(receiver, WebhookReceiver):
        return receiver.timeout.total_seconds()
    return DEFAULT_TIMEOUT_S


def build_requests(
    receiver: Receiver,
    note: Notification,
    environ: Mapping[str, str],
    *,
    tickets_done: frozenset[str] = frozenset(),
) -> list[Request]:
    """The requests delivering ``note`` to an HTTP ``receiver`` (empty: nothing to send).

    ``tickets_done``: alert dedup keys that already have a ticket (never created twice)."""
    dedup, timeout = note.dedup_key, _timeout(receiver)
    if isinstance(receiver, WebhookReceiver):
        return [
            Request(
                url=SecretStr(receiver.url),
                body=encode(webhook_body(note)),
                idempotency_key=note.id,
                sign_with=resolve_secret(receiver.secret_env, environ),
                dedup_key=dedup,
                timeout_s=timeout,
            )
        ]
    if isinstance(receiver, PagerDutyReceiver):
        key = resolve_secret(receiver.routing_key_env, environ).get_secret_value()
        return [
            Request(
                url=SecretStr(receiver.url),
                body=encode(pagerduty_event(note, key)),
                idempotency_key=note.id,
                dedup_key=dedup,
                timeout_s=timeout,
            )
        ]
    if isinstance(receiver, SlackReceiver):
        return [
            Request(
                url=resolve_secret(receiver.webhook_url_env, environ),
                body=encode(slack_payload(note, receiver.channel)),
                idempotency_key=note.id,
                dedup_key=dedup,
                timeout_s=timeout,
            )
        ]
    if isinstance(receiver, TicketReceiver):
        token = resolve_secret(receiver.token_env, environ) if receiver.token_env else None
        return [
            Request(
                url=SecretStr(receiver.url),
                body=encode(body),
                idempotency_key=str(body["external_id"]),
                bearer=token,
                ticket_key=str(body["external_id"]),
                dedup_key=dedup,
                timeout_s=timeout,
            )
            for body in ticket_bodies(note, receiver.project)
            if body["external_id"] not in tickets_done
        ]
    raise TypeError(f"receiver type {receiver.type!r} is not delivered over HTTP")


def check_secrets(receiver: Receiver, environ: Mapping[str, str]) -> None:
    """Fail at start-up (ConfigError) when a receiver's secret variable is not set."""
    for attr in ("secret_env", "routing_key_env", "webhook_url_env", "token_env"):
        name = getattr(receiver, attr, None)
        if name:
            resolve_secret(name, environ)


async def attempt(session: aiohttp.ClientSession, request: Request) -> Attempt:
    """POST once; never raises for a network error or a bad status (the outcome says it).

    The error is a class of failure (``timeout``, ``ClientConnectorError``), never a response
    body or the URL."""
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=request.timeout_s)
    try:
        async with session.post(
            request.url.get_secret_value(),
            data=request.body,
            headers=request.headers(int(time.time())),
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            await resp.read()
            status = resp.status
    except TimeoutError:
        return Attempt(False, None, _ms(started), "timeout")
    except aiohttp.ClientError as exc:
        return Attempt(False, None, _ms(started), type(exc).__name__)
    except asyncio.CancelledError:
        raise
    ok = 200 <= status <= 299
    return Attempt(ok, status, _ms(started), None if ok else f"http_{status}")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
