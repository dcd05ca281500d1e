from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _validate(rules: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "validate", "--rules", str(rules)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_shipped_files_validate() -> None:
    result = _validate(ROOT / "rules")
    assert result.returncode == 0, result.stderr
    assert "service catalog" in result.stderr


def test_a_broken_catalog_fails_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "services.yaml").write_text("services:\n  x:\n    team: a\n    tier: 1\n    tear: 2\n")
    result = _validate(rules)
    assert result.returncode == 1
    assert f"{rules / 'services.yaml'}:5" in result.stderr
    assert "FAIL" in result.stderr
