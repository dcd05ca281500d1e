"""The README's first command does what it says: `auditpipe demo` runs the whole pipeline (on
`run all`'s supervisor) and every stage reports ok (events scrubbed with no PII left, dead
letters, alerts, routing, real notifications delivered to the local receiver with their
signatures verified, forged and unsigned requests refused, a verified archive in both
regions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.runall.plan import free_ports
from pipeline.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_the_pipeline_end_to_end(stack: Settings, tmp_path: Path) -> None:
    # the demo's routing file, on a port of the test's own (a `run all` may hold 9470)
    (port,) = free_ports(1)
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        (ROOT / "deploy/demo/routing.yaml").read_text().replace(":9470/", f":{port}/")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli.main",
            "demo",
            "--events",
            "2000",
            "--no-stack",
            "--routing",
            str(routing),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout
    for stage in (
        "produce (SDK)",
        "sanitize",
        "no PII leaked",
        "dead letters",
        "detect",
        "route (dry run)",
        "deliver (signed webhooks)",
        "receiver refuses forgeries",
        "archive us-east-1",
        "archive eu-central-1",
    ):
        line = next(ln for ln in table.splitlines() if stage in ln)
        assert " ok " in line, line
    assert "FAILED" not in table
    assert " 0 found in audit.events" in table
    assert "unsigned: HTTP 401, forged signature: HTTP 401" in table
    # the table of notifications: at least the brute force, to both webhooks, all verified
    rows = [ln for ln in table.splitlines() if "-webhook" in ln]
    assert any("auth.bruteforce_success" in r and "security-webhook" in r for r in rows), table
    assert any("auth.bruteforce_success" in r and "oncall-webhook" in r for r in rows), table
    assert all(r.rstrip(" │").endswith("yes") for r in rows), rows
    assert not [ln for ln in result.stderr.splitlines() if "Traceback" in ln]
