"""`auditpipe run all` on the real stack: every stage as a worker process, the demo producer on
a bounded number of events; the router's notifications reach the local receiver signed (each
signature checked again here), forged and unsigned requests are refused, a stage killed with
-9 is restarted, and SIGINT stops every stage in order with no process left behind; the
look-around commands it prints work."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.route.payloads import encode, verify
from pipeline.runall import plan as P
from pipeline.runall.devkeys import DevKeys
from pipeline.runall.receiver import probe_refusals, read_deliveries
from pipeline.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
INCIDENT_RULES = {"auth.bruteforce_success", "admin.role_grant"}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _pids(run_dir: Path) -> dict[str, int]:
    out = {}
    for f in run_dir.glob("*.pid"):
        text = f.read_text().strip()
        if text.isdigit():
            out[f.stem] = int(text)
    return out


def _wait(
    what: str, timeout_s: float, check: Callable[[], bool], proc: subprocess.Popen[bytes], out: Path
) -> None:
    until = time.monotonic() + timeout_s
    while not check():
        if proc.poll() is not None:
            pytest.fail(f"run all exited ({proc.returncode}) before {what}:\n{out.read_text()}")
        if time.monotonic() > until:
            pytest.fail(f"timed out waiting for {what}:\n{out.read_text()[-4000:]}")
        time.sleep(1)


def test_run_all_delivers_signed_notifications_and_stops_in_order(
    stack: Settings, tmp_path: Path
) -> None:
    (port,) = P.free_ports(1)
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        (ROOT / "deploy/demo/routing.yaml")
        .read_text()
        .replace("127.0.0.1:9470", f"127.0.0.1:{port}")
    )
    deliveries = tmp_path / "deliveries.jsonl"
    out = tmp_path / "run-all.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli.main", "run", "all", "--routing", str(routing),
             "--demo-producer", "--events", "1500", "--rate", "0", "--no-stack",
             "--deliveries", str(deliveries)],
            cwd=ROOT,
            env={**os.environ, "COLUMNS": "250"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    run_dir = stack.stack.run_dir / "run-all"
    try:
        _wait(
            "every stage ready",
            time.monotonic() + 300,
            lambda: "every stage ready" in out.read_text(),
            proc,
            out,
        )
        pids = _pids(run_dir)
        assert set(pids) >= {"webhook-receiver", "sanitizer", "detector", "router"}

        def delivered() -> set[str]:
            return {r for d in read_deliveries(deliveries) for r in d.rule_ids}

        _wait("notifications of the incidents", time.monotonic() + 240,
              lambda: delivered() >= INCIDENT_RULES, proc, out)  # fmt: skip

        # every recorded delivery: signed with the shared secret, checked here again
        secret = DevKeys.ensure(stack.stack.root / "demo").webhook_secret
        got = read_deliveries(deliveries)
        assert got
        for d in got:
            assert d.signature_verified
            assert d.signature is not None
            t = int(d.signature.split(",")[0].removeprefix("t="))
            assert verify(d.signature, encode(d.body), secret, t), d.notification_id
            assert d.path in ("/hooks/security", "/hooks/oncall")
        assert {d.receiver for d in got} >= {"security-webhook", "oncall-webhook"}

        # the receiver refuses what the router did not sign
        assert probe_refusals(f"http://127.0.0.1:{port}") == {"unsigned": 401, "forged": 401}

        # a stage killed with -9 is restarted by run all
        os.kill(pids["router"], signal.SIGKILL)
        old = pids["router"]
        _wait(
            "a new router", 60, lambda: _pids(run_dir).get("router") not in (None, old), proc, out
        )
        pids = _pids(run_dir)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(180)
    text = out.read_text()
    assert proc.returncode == 0, text[-4000:]
    assert "router exited (code -9); restarting" in text

    # stopped in order, nothing left behind
    stopped = re.findall(r"stopped ([a-z0-9-]+)", text)
    order = [n for n in ["producer", *P.Plan.workers(tuple(stack.s3_regions)), "webhook-receiver"]
             if n in stopped]  # fmt: skip
    assert stopped == order
    assert stopped[-1] == "webhook-receiver"
    for name, pid in pids.items():
        assert not _alive(pid), f"{name} (pid {pid}) still runs after SIGINT"
    assert _pids(run_dir) == {}

    # the look-around commands it printed work (verify is left out: it reads the whole
    # shared archive, where other tests' topics are signed with their own keys)
    hints = text.split("Look around:", 1)[1].splitlines()
    commands = [ln.strip() for ln in hints if ln.strip().startswith("auditpipe ")]
    assert {c.split()[1] for c in commands} >= {"consume", "replay", "trace", "verify"}
    for cmd in commands:
        argv = shlex.split(cmd)
        if argv[1] == "verify":
            continue
        assert "<" not in cmd, cmd  # a real trace id, not a placeholder
        result = subprocess.run(
            [sys.executable, "-m", "pipeline.cli.main", *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, (cmd, result.stderr[-2000:])
