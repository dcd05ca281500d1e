"""The README's first command does what it says: `auditpipe demo` runs the whole pipeline and
every stage reports ok (events scrubbed with no PII left, dead letters, alerts, routing, a
verified archive in both regions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_the_pipeline_end_to_end(stack: Settings) -> None:
    if stack.uses_external_services:
        pytest.skip("the demo starts workers against the local stack")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "demo", "--events", "2000"],
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
        "archive us-east-1",
        "archive eu-central-1",
    ):
        line = next(ln for ln in table.splitlines() if stage in ln)
        assert " ok " in line, line
    assert "FAILED" not in table
    assert " 0 found in audit.events" in table
