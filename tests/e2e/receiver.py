"""The webhook receiver under the test's control: it checks every signature, and can be
slow, failing, or well."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from pipeline.route.payloads import SIGNATURE_HEADER, verify

PATH = "/hook"


@dataclass(frozen=True)
class Delivery:
    raw: bytes
    body: dict[str, Any]
    signed: bool
    status: int
    at: float


class WebhookReceiver:
    """``mode``: "ok" answers 200; "slow" answers 200 after ``slow_s``; "fail" answers 503."""

    def __init__(self, secret: str, slow_s: float = 1.5) -> None:
        self.secret = secret
        self.slow_s = slow_s
        self.mode = "ok"
        self.deliveries: list[Delivery] = []  # answered 200
        self.refused = 0  # answered 503
        self.bad_signatures = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                signed = verify(
                    self.headers.get(SIGNATURE_HEADER, ""), raw, owner.secret, int(time.time())
                )
                mode = owner.mode
                if mode == "slow":
                    time.sleep(owner.slow_s)
                status = 503 if mode == "fail" or self.path != PATH else 200
                with owner.lock:
                    if not signed:
                        owner.bad_signatures += 1
                    if status == 200:
                        owner.deliveries.append(
                            Delivery(raw, orjson.loads(raw), signed, status, time.time())
                        )
                    else:
                        owner.refused += 1
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the sender timed out while we were slow: it will retry
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def rule_ids(self) -> set[str]:
        """The rules of the alerts received in verified notifications."""
        out: set[str] = set()
        with self.lock:
            for d in self.deliveries:
                if not d.signed:
                    continue
                for alert in d.body.get("alerts") or []:
                    if isinstance(alert, dict) and "rule_id" in alert:
                        out.add(str(alert["rule_id"]))
        return out

    def raw_bodies(self) -> bytes:
        with self.lock:
            return b"\n".join(d.raw for d in self.deliveries)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
