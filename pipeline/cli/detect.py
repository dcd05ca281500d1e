"""`auditpipe detect` (offline backtest) and `auditpipe rules test|lint`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console

from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import Engine
from pipeline.detect.examples import run_all
from pipeline.detect.loader import lint as lint_rules
from pipeline.detect.loader import load_rules, rule_files
from pipeline.errors import InvalidEventError, RuleError

console = Console(stderr=True)
DEFAULT_RULES = Path("rules/detection")
rules_app = typer.Typer(help="Check detection rules: run their examples, lint them.")


def _events(path: Path | None) -> Iterator[dict[str, Any]]:
    stream = sys.stdin.buffer if path is None or str(path) == "-" else path.open("rb")
    with stream:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidEventError(f"{path or '-'}:{lineno}: not valid JSON: {exc}") from None
            if not isinstance(doc, dict) or "ts" not in doc:
                raise InvalidEventError(f"{path or '-'}:{lineno}: not an event (no 'ts')")
            yield doc


def detect(
    rules: Path = typer.Option(DEFAULT_RULES, "--rules", help="rule file or directory"),
    input_file: Path | None = typer.Option(
        None, "--input", "-i", help="JSON Lines events (default: stdin)"
    ),
    lateness: float = typer.Option(300.0, "--lateness", min=0, help="allowed lateness, seconds"),
    update_interval: float = typer.Option(
        60.0, "--update-interval", min=1, help="least event time between alert updates, seconds"
    ),
) -> None:
    """Backtest: run the rules over events (JSON Lines) and print alerts as JSON Lines."""
    ruleset = load_rules(rules)
    config = EngineConfig(allowed_lateness_s=lateness, update_interval_s=update_interval)
    engine = Engine(ruleset, config)
    out = sys.stdout.buffer
    for event in _events(input_file):
        for alert in engine.process(event):
            out.write(orjson.dumps(alert) + b"\n")
    for alert in engine.flush():
        out.write(orjson.dumps(alert) + b"\n")
    out.flush()
    console.print(
        f"{engine.processed} events, {engine.late} late (ignored), "
        f"{engine.duplicates} duplicates (same event_id within the lateness; ignored)",
        highlight=False,
    )
    for rule_id in sorted(ruleset.alerting_ids()):
        console.print(
            f"  {rule_id}: {engine.alerts_by_rule.get(rule_id, 0)} alerts", highlight=False
        )


def _paths(rules: Path) -> list[Path]:
    paths = rule_files(rules) if rules.is_dir() else [rules]
    if not paths:
        raise RuleError("no rule files (*.yml) found", file=rules)
    return paths


@rules_app.command("lint")
def lint(rules: Path = typer.Argument(DEFAULT_RULES, help="rule file or directory")) -> None:
    """Report every error in the rule files, with file and line."""
    _, errors = lint_rules(_paths(rules))
    for error in errors:
        typer.echo(str(error))
    if errors:
        raise typer.Exit(1)
    typer.echo(f"ok: {len(_paths(rules))} rule files")


@rules_app.command("test")
def run_examples(
    rules: Path = typer.Argument(DEFAULT_RULES, help="rule file or directory"),
) -> None:
    """Run every rule's examples; fail if a rule raises a different number of alerts."""
    ruleset = load_rules(rules)
    failed = 0
    for result in run_all(ruleset):
        mark = "ok  " if result.ok else "FAIL"
        failed += not result.ok
        typer.echo(
            f"{mark} {result.rule_id}: {result.name} "
            f"(expected {result.expected} alerts, got {result.got})"
        )
    if failed:
        typer.echo(f"{failed} examples failed")
        raise typer.Exit(1)
