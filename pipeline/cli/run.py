"""`auditpipe run STAGE`: run one stage of the pipeline as a long-lived worker."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.settings import load_settings

app = typer.Typer(
    help="Run a pipeline stage (one worker process; scale with more).", no_args_is_help=True
)


@app.command()
def detector(
    app_id: str = typer.Option("auditpipe-detector", "--app-id", help="faust app id (= group id)"),
    rules: Path | None = typer.Option(
        None, "--rules", help="rules directory (default: rules/detection)"
    ),
    loglevel: str = typer.Option("warn", help="faust worker log level: crit|error|warn|info|debug"),
) -> None:
    """Evaluate the detection rules over audit.events; alerts to audit.alerts (faust worker)."""
    from faust.worker import Worker

    from pipeline.detect.stage import build_app

    settings = load_settings()
    faust_app = build_app(settings, app_id=app_id, rules_dir=rules)
    Worker(faust_app, loglevel=loglevel, quiet=True).execute_from_commandline()
