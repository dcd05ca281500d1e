"""A local signed-webhook receiver: what the router delivers to in `auditpipe run all` and the demo.

``POST <any path>`` with a JSON body and ``X-Auditpipe-Signature: t=<unix>,v1=<hex>``
(:mod:`pipeline.route.payloads`): a request without the header, or whose signature does not
verify with the shared secret within the tolerance, is answered **401** and not recorded; a
verified one is answered 200 and appended as one JSON line to the deliveries file
(:class:`Delivery` fields, the body included: notifications carry scrubbed alerts only). A
repeated ``Idempotency-Key`` (a retry of a delivery that already arrived) is answered 200 and
recorded with ``duplicate: true``, as a real receiver would drop it.

``GET /healthz`` answers 200 with the counts (verified, duplicates, rejected: a bad or
missing signature, refused: answered a fault's ``fail_status``).

Faults, for the tests that need a slow or failing receiver: ``PUT /_faults`` with a body
``{"delay_s": 2.0, "fail_status": 503}`` (either may be null or absent), signed like a
delivery, makes every later delivery wait ``delay_s`` and/or be answered ``fail_status``
without being recorded; ``{}`` clears them. In the same process, set ``Receiver.faults``.

In the same process, ``Receiver(..., listener=inbox)`` also hands every verified delivery, with
its raw body and arrival time (:class:`Arrival`), to a callable: :class:`Inbox` keeps them in
memory (what the e2e test scans for leaks and matches incidents against, and the benchmark
times its probes by).

Nothing here logs a body, a header value or the secret.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from pipeline.route.payloads import SIGNATURE_HEADER, sign, verify

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # bytes; the router's notifications are a few KB
IDEMPOTENCY_HEADER = "Idempotency-Key"
FAULTS_PATH = "/_faults"


@dataclass(frozen=True)
class Check:
    """Outcome of one request's signature check."""

    ok: bool
    reason: str  # "verified", "unsigned", "invalid signature"


def check_signature(
    headers: Mapping[str, str], body: bytes, secret: str, now: int, tolerance_s: int = 300
) -> Check:
    """Whether ``body`` carries a valid ``X-Auditpipe-Signature`` made with ``secret``."""
    header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None)
    if not header:
        return Check(False, "unsigned")
    if not verify(header, body, secret, now, tolerance_s):
        return Check(False, "invalid signature")
    return Check(True, "verified")


@dataclass(frozen=True)
class Delivery:
    """One verified delivery, as recorded (one JSON line)."""

    received_at: str
    path: str
    idempotency_key: str | None
    notification_id: str | None
    receiver: str | None
    status: str | None
    rule_ids: list[str]
    alert_dedup_keys: list[str]
    signature_verified: bool
    duplicate: bool
    body: dict[str, Any] = field(default_factory=dict)
    signature: str | None = None  # the X-Auditpipe-Signature header that verified

    @classmethod
    def of(
        cls,
        path: str,
        idempotency_key: str | None,
        body: dict[str, Any],
        *,
        duplicate: bool,
        signature: str | None = None,
    ) -> Delivery:
        alerts = [a for a in body.get("alerts") or [] if isinstance(a, dict)]
        return cls(
            received_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            path=path,
            idempotency_key=idempotency_key,
            notification_id=_str(body.get("id")),
            receiver=_str(body.get("receiver")),
            status=_str(body.get("status")),
            rule_ids=sorted({str(a["rule_id"]) for a in alerts if "rule_id" in a}),
            alert_dedup_keys=[str(a["dedup_key"]) for a in alerts if "dedup_key" in a],
            signature_verified=True,
            duplicate=duplicate,
            body=body,
            signature=signature,
        )

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Delivery:
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def read_deliveries(path: Path) -> list[Delivery]:
    """The deliveries recorded in ``path`` (none if it does not exist; a torn last line is
    skipped)."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(Delivery.from_json(orjson.loads(line)))
        except (orjson.JSONDecodeError, TypeError):
            continue
    return out


@dataclass
class Faults:
    delay_s: float = 0.0
    fail_status: int | None = None

    @classmethod
    def parse(cls, doc: object) -> Faults:
        if not isinstance(doc, dict):
            raise ValueError("faults: a JSON object")
        delay = doc.get("delay_s") or 0.0
        status = doc.get("fail_status")
        if not isinstance(delay, int | float) or not 0 <= delay <= 600:
            raise ValueError("delay_s: seconds, 0 to 600")
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("fail_status: an HTTP status 400-599")
        return cls(float(delay), status)


@dataclass(frozen=True)
class Arrival:
    """A verified delivery as it arrived: when (``time.time()``), its raw body, the record."""

    at: float
    raw: bytes
    delivery: Delivery


class Inbox:
    """The verified deliveries of a receiver in this process, in arrival order (a listener for
    :class:`Receiver`). Thread-safe."""

    def __init__(self) -> None:
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()

    def __call__(self, arrival: Arrival) -> None:
        with self._lock:
            self._arrivals.append(arrival)

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def clear(self) -> None:
        with self._lock:
            self._arrivals.clear()

    def raw_bodies(self) -> list[bytes]:
        return [a.raw for a in self.arrivals()]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts of every delivery (retries included)."""
        return [
            alert
            for a in self.arrivals()
            for alert in a.delivery.body.get("alerts") or []
            if isinstance(alert, dict)
        ]


class Receiver:
    """The receiver's state: the secret, the deliveries file, counts, faults. Thread-safe."""

    def __init__(
        self,
        secret: str,
        out: Path,
        *,
        tolerance_s: int = 300,
        listener: Callable[[Arrival], None] | None = None,
    ) -> None:
        self.secret = secret
        self.out = out
        self.tolerance_s = tolerance_s
        self.listener = listener
        self.verified = 0
        self.duplicates = 0
        self.rejected = 0
        self.refused = 0
        self.faults = Faults()
        self._lock = threading.Lock()
        out.parent.mkdir(parents=True, exist_ok=True)
        self._seen = {d.idempotency_key for d in read_deliveries(out) if d.idempotency_key}

    def check(self, headers: Mapping[str, str], body: bytes) -> Check:
        verdict = check_signature(headers, body, self.secret, int(time.time()), self.tolerance_s)
        if not verdict.ok:
            with self._lock:
                self.rejected += 1
            log.warning("webhook request rejected", extra={"reason": verdict.reason})
        return verdict

    def record(
        self,
        path: str,
        idempotency_key: str | None,
        body: dict[str, Any],
        signature: str | None = None,
        raw: bytes = b"",
    ) -> Delivery:
        with self._lock:
            duplicate = idempotency_key is not None and idempotency_key in self._seen
            if idempotency_key is not None:
                self._seen.add(idempotency_key)
            delivery = Delivery.of(
                path, idempotency_key, body, duplicate=duplicate, signature=signature
            )
            with self.out.open("ab") as fh:
                fh.write(orjson.dumps(asdict(delivery)) + b"\n")
            self.verified += 1
            self.duplicates += duplicate
            if self.listener is not None:
                self.listener(Arrival(time.time(), raw, delivery))
        return delivery

    def refuse(self) -> None:
        """Count a delivery answered with the fault's ``fail_status``."""
        with self._lock:
            self.refused += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "verified": self.verified,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "refused": self.refused,
            }


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/healthz":
                self._send(200, {"ok": True, **receiver.counts()})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = self._body()
            if body is None:
                return
            if not receiver.check(dict(self.headers.items()), body).ok:
                self._send(401, {"error": "signature required"})
                return
            faults = receiver.faults
            if faults.delay_s:
                time.sleep(faults.delay_s)
            if faults.fail_status is not None:
                receiver.refuse()
                self._send(faults.fail_status, {"error": "fault injected"})
                return
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                self._send(400, {"error": "not JSON"})
                return
            if not isinstance(doc, dict):
                self._send(400, {"error": "not a JSON object"})
                return
            path = self.path.split("?", 1)[0]
            delivery = receiver.record(
                path,
                self.headers.get(IDEMPOTENCY_HEADER),
                doc,
                self.headers.get(SIGNATURE_HEADER),
                body,
            )
            self._send(200, {"ok": True, "duplicate": delivery.duplicate})

        def do_PUT(self) -> None:
            body = self._body()
            if body is None:
                return
            if self.path.split("?", 1)[0] != FAULTS_PATH:
                self._send(404, {"error": "not found"})
                return
            if not receiver.check(dict(self.headers.items()), body).ok:
                self._send(401, {"error": "signature required"})
                return
            try:
                receiver.faults = Faults.parse(orjson.loads(body))
            except (orjson.JSONDecodeError, ValueError) as exc:
                self._send(400, {"error": str(exc) if isinstance(exc, ValueError) else "JSON"})
                return
            log.info("faults set", extra=asdict(receiver.faults))
            self._send(200, {"ok": True, **asdict(receiver.faults)})

        def _body(self) -> bytes | None:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self._send(411, {"error": "Content-Length required"})
                return None
            if int(length) > MAX_BODY:
                self._send(413, {"error": "body too large"})
                return None
            return self.rfile.read(int(length))

        def _send(self, code: int, doc: dict[str, Any]) -> None:
            body = orjson.dumps(doc)
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the sender gave up while we were slow (a fault): it retries
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass  # request lines hold paths from the outside; counts are in /healthz

    return Handler


class ReceiverServer:
    """The HTTP server in a daemon thread; ``close`` stops it."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.receiver = receiver
        self._http = ThreadingHTTPServer((host, port), _handler(receiver))
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="webhook-receiver", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> ReceiverServer:
        self._thread.start()
        log.info("webhook receiver started", extra={"port": self.port})
        return self

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def probe_refusals(base_url: str, timeout_s: float = 10.0) -> dict[str, int]:
    """POST an unsigned and a forged (wrong secret) notification to a receiver; the HTTP
    status each got (a receiver that checks signatures answers 401 to both)."""
    body = orjson.dumps({"id": "forged", "receiver": "nobody", "alerts": []})
    forged = sign(body, "not-the-shared-secret", int(time.time()))
    out = {}
    for what, headers in (("unsigned", {}), ("forged", {SIGNATURE_HEADER: forged})):
        req = urllib.request.Request(  # noqa: S310 (loopback)
            f"{base_url}/hooks/probe",
            data=body,
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (loopback)
                out[what] = int(resp.status)
        except urllib.error.HTTPError as exc:
            out[what] = exc.code
    return out
