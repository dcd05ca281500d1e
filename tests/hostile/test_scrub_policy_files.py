"""A scrub policy or rule file that is not UTF-8 (issue 16): the error names the file and the
line, and the strict YAML checks run before any YAML parser builds the document (a file that
is not UTF-8 never reaches PyYAML at all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.safe import EXIT_FAILED, EXIT_UNUSABLE
from tests.hostile.conftest import Cli

SENTINEL = "sentinel.policy@example.org"
LATIN = b"version: 1\nfields:\n  actor.id: keep # \xe9t\xe9 " + SENTINEL.encode() + b"\n"


@pytest.mark.parametrize("where", ["policy", "rule-detect", "rule-lint"])
def test_a_non_utf8_file_is_named_with_its_line(cli: Cli, tmp_path: Path, where: str) -> None:
    path = tmp_path / "named-file.yaml"
    path.write_bytes(LATIN)
    if where == "policy":
        r = cli("scrub", "--policy", str(path), "--dev-key").check(
            EXIT_UNUSABLE, sentinels=[SENTINEL]
        )
        assert f"{path}:3: scrub policy is not UTF-8 text" in r.err
    elif where == "rule-detect":
        r = cli("detect", "--rules", str(path)).check(EXIT_UNUSABLE, sentinels=[SENTINEL])
        assert f"{path}:3: rule file is not UTF-8 text" in r.err
    else:
        r = cli("rules", "lint", str(path)).check(EXIT_FAILED, sentinels=[SENTINEL])
        assert f"{path}:3: rule file is not UTF-8 text" in r.out


def test_the_strict_checks_run_before_the_document_is_built(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    built: list[str] = []
    real = yaml.load

    def spy(*args: object, **kwargs: object) -> object:
        built.append("load")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(yaml, "load", spy)
    path = tmp_path / "scrub.yaml"
    path.write_text("version: 1\nfields:\n  actor.id: pseudonymize\n  actor.id: keep\n")
    r = cli("scrub", "--policy", str(path), "--dev-key").check(EXIT_UNUSABLE)
    assert f"{path}:4" in r.err
    assert "duplicate key" in r.err
    assert built == []  # refused by the strict check; no loader ran
