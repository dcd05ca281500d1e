from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _validate(rules: Path, *extra: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "validate", "--rules", str(rules), *extra],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def test_shipped_files_validate() -> None:
    result = _validate(ROOT / "rules")
    assert result.returncode == 0, result.stderr
    assert "service catalog" in result.stderr
    assert "ok   Kafka ACLs: 9 principals" in result.stderr


def test_a_broken_catalog_fails_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "services.yaml").write_text("services:\n  x:\n    team: a\n    tier: 1\n    tear: 2\n")
    result = _validate(rules)
    assert result.returncode == 1
    assert f"{rules / 'services.yaml'}:5" in result.stderr
    assert "FAIL" in result.stderr


def test_a_broken_acl_file_fails(tmp_path: Path) -> None:
    shipped = (ROOT / "deploy" / "kafka" / "acls.yaml").read_text()
    cases = {
        "unknown operation": shipped.replace("operations: [write]}", "operations: [wirte]}", 1),
        "unknown key": shipped.replace("super_user: true", "super_user: true\n    colour: red"),
        "standing break-glass grant": shipped.replace(
            "(no standing ACL)",
            "(no standing ACL)\n    allow:\n"
            "      - {resource: topic, name: audit.dlq, operations: [read]}",
        ),
        "undeclared break-glass principal": shipped.replace(
            "principal: break-glass", "principal: nobody"
        ),
    }
    for what, text in cases.items():
        assert text != shipped, what
        path = tmp_path / "acls.yaml"
        path.write_text(text)
        result = _validate(ROOT / "rules", "--acls", str(path))
        assert result.returncode == 1, what
        assert "FAIL Kafka ACLs" in result.stderr, (what, result.stderr)


def test_without_deploy_the_acl_check_says_it_did_not_run(tmp_path: Path) -> None:
    """An image ships rules/ but not deploy/: validate passes there, and says so."""
    result = _validate(ROOT / "rules", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Kafka ACLs: not checked" in result.stderr


def test_an_acl_file_given_and_missing_fails(tmp_path: Path) -> None:
    result = _validate(ROOT / "rules", "--acls", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "FAIL Kafka ACLs" in result.stderr
