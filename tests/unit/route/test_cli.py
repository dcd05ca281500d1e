from __future__ import annotations

from pathlib import Path

import orjson
import typer
from typer.testing import CliRunner

from pipeline.cli.route import route

from .helpers import BASIC, alert

ROOT = Path(__file__).resolve().parents[3]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(route)
    return app


def test_dry_run_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(BASIC)
    alerts = tmp_path / "alerts.jsonl"
    docs = [alert(i, dedup_key="k", count=10 + i) for i in range(0, 3600, 10)]
    alerts.write_bytes(b"\n".join(orjson.dumps(d) for d in docs) + b"\n")
    result = CliRunner().invoke(_app(), ["--config", str(config), "--input", str(alerts), "--json"])
    assert result.exit_code == 0, result.output
    notes = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [n["reason"] for n in notes] == ["new"]  # no repeat within 4h; resolved not asked
    assert notes[0]["receiver"] == "feed"


def test_table_with_shipped_config_from_stdin() -> None:
    doc = alert(0, severity="CRITICAL", team="billing")
    result = CliRunner(env={"COLUMNS": "240"}).invoke(
        _app(),
        ["--config", str(ROOT / "rules" / "routing.yaml")],
        input=orjson.dumps(doc).decode() + "\n",
    )
    assert result.exit_code == 0, result.output
    for receiver in ("security-feed", "security-pager"):
        assert receiver in result.stdout


def test_invalid_alert_names_the_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        ["--config", str(ROOT / "rules" / "routing.yaml")],
        input='{"rule_id": "x"}\n',
    )
    assert result.exit_code != 0
    assert "-:1" in str(result.exception)
