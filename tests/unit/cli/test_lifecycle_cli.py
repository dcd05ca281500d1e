"""`auditpipe legal-hold` and `auditpipe retention`: argument checks made before any S3 call."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.archive.lifecycle.holds import Selector
from pipeline.cli import legal_hold, retention
from pipeline.errors import ConfigError

runner = CliRunner()
SHIPPED = Path(__file__).parents[3] / "rules" / "retention.yaml"


@pytest.mark.parametrize(
    "args",
    [
        ["set", "--case", "C1"],  # no selection
        ["set", "--case", "C1", "--from", "2026-01-01T00:00:00Z"],  # half a range
        ["clear", "--case", "C1", "--prefix", "events/", "--to", "2026-01-01T00:00:00Z"],
    ],
)
def test_legal_hold_needs_a_prefix_or_a_whole_range(args: list[str]) -> None:
    result = runner.invoke(legal_hold.app, args)
    assert result.exit_code == 2
    assert "either --prefix, or both --from and --to" in result.output


def test_legal_hold_refuses_a_case_id_that_could_escape_its_marker_prefix() -> None:
    result = runner.invoke(legal_hold.app, ["set", "--case", "../x", "--prefix", "events/"])
    assert isinstance(result.exception, ConfigError)
    assert "case id" in str(result.exception)


def test_purge_without_a_signing_key_refuses_to_start(tmp_path: Path) -> None:
    result = runner.invoke(
        retention.app,
        ["purge", "--retention", str(SHIPPED), "--signing-key", str(tmp_path / "missing.pem")],
    )
    assert isinstance(result.exception, ConfigError)
    assert "signing key" in str(result.exception)


def test_show_lists_every_class() -> None:
    result = runner.invoke(retention.app, ["show", "--retention", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    for name in ("security", "integration", "verbose"):
        assert name in result.output


def test_hold_selector_needs_a_prefix_or_an_ordered_range() -> None:
    assert Selector(prefix="events/").describe() == "prefix events/"
    with pytest.raises(ValueError, match="either a prefix"):
        Selector(prefix="events/", start="2026-01-01T00:00:00.000000Z")
    with pytest.raises(ValueError, match="ends before it starts"):
        Selector(start="2026-02-01T00:00:00.000000Z", end="2026-01-01T00:00:00.000000Z")
