"""Under the production profile a worker (and ``auditpipe verify`` of an S3 archive) that lacks
an endpoint, credential or key stops at start: non-zero exit within seconds, the variable
named, and no connection opened.

Each command runs as a subprocess with a scrubbed environment. Every address it could reach
(the configured endpoints *and* the local stack's defaults, moved with ``AUDITPIPE_STACK__*``)
is a listening socket of the test that records connections; a control run under the local
profile shows that the recorder sees a process that does fall back to the stack's defaults.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.archive.format.keys import generate

ROOT = Path(__file__).resolve().parents[3]
DEADLINE_S = 20.0  # "within seconds" on a loaded CI machine; a typical run takes ~2 s


class Recorder:
    """Listening sockets on free loopback ports; counts the connections made to them."""

    def __init__(self, n: int) -> None:
        self.socks = []
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            s.setblocking(False)
            self.socks.append(s)
        self.ports = [int(s.getsockname()[1]) for s in self.socks]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in sel.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                conn, _addr = sock.accept()
                self.connections += 1
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.socks:
            s.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder(4)
    yield rec
    rec.close()


def _base_env(rec: Recorder) -> dict[str, str]:
    """No AUDITPIPE_* of the caller; the local stack's addresses moved to the recorder."""
    kafka, registry, s3a, s3b = rec.ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITPIPE_")}
    env["PYTHONPATH"] = str(ROOT)
    env["AUDITPIPE_STACK__HOST"] = "127.0.0.1"
    env["AUDITPIPE_STACK__KAFKA_PORT"] = str(kafka)
    env["AUDITPIPE_STACK__REGISTRY_PORT"] = str(registry)
    env["AUDITPIPE_STACK__S3_REGIONS"] = json.dumps(
        [{"name": "us-east-1", "port": s3a}, {"name": "eu-central-1", "port": s3b}]
    )
    return env


def _production_env(rec: Recorder, tmp_path: Path) -> dict[str, str]:
    """Everything a production worker needs, every endpoint at the recorder."""
    kafka, registry, s3a, _ = rec.ports
    password = tmp_path / "kafka-password"
    password.write_text("pw")
    private, _public = generate(tmp_path / "keys")
    return {
        **_base_env(rec),
        "AUDITPIPE_PROFILE": "production",
        "AUDITPIPE_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "AUDITPIPE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "AUDITPIPE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "AUDITPIPE_KAFKA__SASL_USERNAME": "svc",
        "AUDITPIPE_KAFKA__SASL_PASSWORD_FILE": str(password),
        "AUDITPIPE_SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{registry}",
        "AUDITPIPE_S3_ENDPOINTS": json.dumps({"us-east-1": f"http://127.0.0.1:{s3a}"}),
        "AUDITPIPE_S3_ACCESS_KEY_ID": "svc-archiver",
        "AUDITPIPE_S3_SECRET_ACCESS_KEY": "s3-secret",
        "AUDITPIPE_HMAC_KEY": "00" * 32,
        "AUDITPIPE_DLQ_KEY": "11" * 32,
        "AUDITPIPE_ARCHIVE__SIGNING_KEY": str(private),
    }


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, float]:
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S * 3,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - t0


SANITIZER = ["run", "sanitizer"]
DETECTOR = ["run", "detector"]
ROUTER = ["run", "router", "--config", str(ROOT / "rules" / "routing.yaml")]
ARCHIVER = ["run", "archiver", "--region", "us-east-1"]
VERIFY = ["verify", "--source", "s3://auditpipe-archive-us-east-1", "--public-key", "PUBLIC"]

CASES = [
    (SANITIZER, ["AUDITPIPE_BOOTSTRAP_SERVERS"]),
    (SANITIZER, ["AUDITPIPE_KAFKA__SASL_PASSWORD_FILE"]),
    (SANITIZER, ["AUDITPIPE_DLQ_KEY"]),
    (DETECTOR, ["AUDITPIPE_SCHEMA_REGISTRY_URL"]),
    (DETECTOR, ["AUDITPIPE_KAFKA__SECURITY_PROTOCOL"]),
    (ROUTER, ["AUDITPIPE_BOOTSTRAP_SERVERS", "AUDITPIPE_KAFKA__SASL_USERNAME"]),
    (ARCHIVER, ["AUDITPIPE_S3_ENDPOINTS"]),
    (ARCHIVER, ["AUDITPIPE_S3_SECRET_ACCESS_KEY", "AUDITPIPE_ARCHIVE__SIGNING_KEY"]),
    (VERIFY, ["AUDITPIPE_S3_ENDPOINTS"]),
    (VERIFY, ["AUDITPIPE_S3_ACCESS_KEY_ID"]),
]


@pytest.mark.parametrize(
    ("args", "missing"), CASES, ids=[f"{a[1]}-{'+'.join(m)}" for a, m in CASES]
)
def test_production_worker_without_a_value_stops_at_start(
    args: list[str], missing: list[str], recorder: Recorder, tmp_path: Path
) -> None:
    env = _production_env(recorder, tmp_path)
    for var in missing:
        del env[var]
    _private, public = generate(tmp_path / "verify-keys")
    args = [str(public) if a == "PUBLIC" else a for a in args]
    code, out, took = _run(args, env, tmp_path)
    assert code != 0, out
    assert took < DEADLINE_S, f"took {took:.1f}s"
    for var in missing:
        assert var in out, out
    assert "Traceback" not in out, out  # one clear line
    time.sleep(0.1)  # a connect that raced the exit would be accepted by now
    assert recorder.connections == 0


def test_production_worker_with_nothing_set_names_every_variable(
    recorder: Recorder, tmp_path: Path
) -> None:
    env = {**_base_env(recorder), "AUDITPIPE_PROFILE": "production"}
    code, out, _took = _run(ARCHIVER, env, tmp_path)
    assert code != 0
    for var in (
        "AUDITPIPE_BOOTSTRAP_SERVERS",
        "AUDITPIPE_KAFKA__SECURITY_PROTOCOL",
        "AUDITPIPE_S3_ENDPOINTS",
        "AUDITPIPE_S3_ACCESS_KEY_ID",
        "AUDITPIPE_S3_SECRET_ACCESS_KEY",
        "AUDITPIPE_ARCHIVE__SIGNING_KEY",
    ):
        assert var in out, out
    assert recorder.connections == 0


def test_control_the_local_profile_falls_back_to_the_stack_and_the_recorder_sees_it(
    recorder: Recorder, tmp_path: Path
) -> None:
    """Without a profile, an unset registry URL means the local stack's registry, which the
    environment moved to the recorder: the connection is seen."""
    code, _out, _took = _run(
        ["schemas", "check", "--dir", str(ROOT / "schemas")], _base_env(recorder), tmp_path
    )
    assert code != 0  # the recorder closes every connection
    assert recorder.connections > 0
