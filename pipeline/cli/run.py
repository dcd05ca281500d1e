"""`auditpipe run STAGE`: run one stage of the pipeline as a long-lived worker."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline import logging as plog
from pipeline.cli import run_all
from pipeline.settings import load_settings

app = typer.Typer(
    help="Run a pipeline stage (one worker process; scale with more).", no_args_is_help=True
)


@app.command()
def sanitizer(
    metrics_port: int = typer.Option(0, help="serve Prometheus metrics on 127.0.0.1:PORT (0: off)"),
    batch_size: int = typer.Option(1000, min=1, help="records per consume/produce/commit batch"),
    group: str = typer.Option("auditpipe-sanitizer", help="consumer group id"),
) -> None:
    """Decode, validate, enrich and scrub raw events into audit.events; bad input to audit.dlq."""
    from pipeline.sanitizer import runner
    from pipeline.sanitizer.build import build_scrub

    settings = load_settings()
    settings.require("kafka", "registry", "hmac_key", "dlq_key", what="the sanitizer")
    plog.configure(settings.log_level)
    runner.run(
        settings,
        build_scrub(settings),
        metrics_port=metrics_port or None,
        batch_size=batch_size,
        group_id=group,
    )


@app.command()
def detector(
    app_id: str = typer.Option(
        "auditpipe-detector", "--app-id", help="consumer group id (also names the state topics)"
    ),
    rules: Path | None = typer.Option(
        None, "--rules", help="rules directory (default: rules/detection)"
    ),
    loglevel: str | None = typer.Option(
        None, help="log level: crit|error|warn|info|debug (default: AUDITPIPE_LOG_LEVEL)"
    ),
    lateness: float = typer.Option(300.0, min=0, help="allowed event-time lateness, seconds"),
    sweep_interval: float = typer.Option(
        30.0, min=0.1, help="seconds between expiry sweeps (final updates of closed windows)"
    ),
    idle_after: float = typer.Option(
        60.0,
        min=0.1,
        help="seconds without events after which a partition's event time "
        "advances with the wall clock",
    ),
    checkpoint_interval: float = typer.Option(
        1.0, min=0.05, help="seconds between checkpoints (state written, then offsets committed)"
    ),
) -> None:
    """Evaluate the detection rules over audit.events; alerts to audit.alerts."""
    import signal

    from prometheus_client import CollectorRegistry

    from pipeline.detect.config import EngineConfig
    from pipeline.detect.loop import DetectorLoop, DetectorMetrics, LoopOptions
    from pipeline.ops.stage import serve_stage

    settings = load_settings()
    settings.require("kafka", "registry", what="the detector")
    level = (loglevel or settings.log_level).lower()
    plog.configure({"crit": "CRITICAL", "warn": "WARNING"}.get(level, level.upper()))
    config = EngineConfig(
        allowed_lateness_s=lateness, sweep_interval_s=sweep_interval, idle_after_s=idle_after
    )
    registry = CollectorRegistry()
    loop = DetectorLoop(
        settings,
        rules_dir=rules,
        config=config,
        options=LoopOptions(app_id=app_id, checkpoint_s=checkpoint_interval),
        metrics=DetectorMetrics(registry),
    )
    serve_stage("detector", settings, app_id, registry)  # /healthz /readyz /metrics
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: loop.stop())
    loop.run()


@app.command()
def archiver(
    region: str = typer.Option(..., "--region", help="archive region, e.g. us-east-1"),
    group: str | None = typer.Option(
        None, help="consumer group (default: auditpipe-archiver-REGION)"
    ),
    prefix: str = typer.Option("", help="key prefix inside the bucket (default: none)"),
    witness: bool = typer.Option(
        True, help="name the other region's latest checkpoint in each checkpoint"
    ),
) -> None:
    """Archive audit.events into one region's Object-Lock bucket (run one per region)."""
    from pipeline.archive.write import runner as archive_runner

    settings = load_settings()
    settings.require("kafka", "s3_endpoints", "s3_credentials", "signing_key", what="the archiver")
    plog.configure(settings.log_level)
    archive_runner.run(settings, region, group_id=group, prefix=prefix, witness=witness)


@app.command()
def router(
    config: Path = typer.Option(Path("rules/routing.yaml"), "--config", "-c", help="routing file"),
    group: str = typer.Option("auditpipe-router", help="consumer group id (also keys the state)"),
    audit_topic: str | None = typer.Option(
        None, help="raw topic for delivery audit events (default: audit.raw.auditpipe-router)"
    ),
    environment: str = typer.Option("dev", help="environment named in the delivery audit events"),
    metrics_port: int = typer.Option(0, help="serve Prometheus metrics on 127.0.0.1:PORT (0: off)"),
    breaker_cool_down: float = typer.Option(
        30.0, min=0.1, help="seconds a receiver's open circuit breaker waits before a trial"
    ),
    retry_base: float = typer.Option(
        0.5, min=0.001, help="seconds: first retry backoff ceiling (full jitter, doubling)"
    ),
) -> None:
    """Route audit.alerts to on-call: group, inhibit, silence; deliver to the receivers of the
    routing file (Kafka topics, signed webhooks, PagerDuty, Slack, tickets), every attempt
    audited. Receiver secrets come from the environment variables the routing file names."""
    from pipeline.route import runner as route_runner
    from pipeline.route.stage import RouterOptions

    settings = load_settings()
    settings.require("kafka", "registry", what="the router")
    plog.configure(settings.log_level)
    options = RouterOptions(
        group_id=group,
        audit_topic=audit_topic,
        environment=environment,
        breaker_cool_down_s=breaker_cool_down,
        retry_base_s=retry_base,
    )
    route_runner.run(settings, config, options, metrics_port=metrics_port or None)


@app.command(name="webhook-receiver")
def webhook_receiver(
    port: int = typer.Option(..., "--port", min=0, max=65535, help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    secret_file: Path = typer.Option(
        ..., "--secret-file", help="file holding the shared webhook secret (the router's)"
    ),
    out: Path = typer.Option(
        ..., "--out", help="JSON Lines file the verified deliveries are appended to"
    ),
    tolerance: int = typer.Option(
        300, min=1, help="seconds a signature's timestamp may be old (replay protection)"
    ),
) -> None:
    """A local signed-webhook receiver (for `run all` and the demo): verifies the router's
    X-Auditpipe-Signature, answers 401 to an unsigned or forged request, records verified
    deliveries to --out. Runs until SIGTERM/SIGINT."""
    import signal
    import threading

    from pipeline.errors import ConfigError
    from pipeline.runall.receiver import Receiver, ReceiverServer

    settings = load_settings()
    plog.configure(settings.log_level)
    try:
        secret = secret_file.read_text().strip()
    except OSError:
        raise ConfigError(f"cannot read the webhook secret file {secret_file}") from None
    if not secret:
        raise ConfigError(f"the webhook secret file {secret_file} is empty")
    try:
        server = ReceiverServer(Receiver(secret, out, tolerance_s=tolerance), host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.close()


@app.command(name="demo-producer")
def demo_producer(
    topic: str = typer.Option("audit.raw.demo", "--topic", "-t", help="raw topic to write to"),
    rate: float = typer.Option(50.0, "--rate", min=0, help="events per second (0: at once)"),
    events: int = typer.Option(0, "--events", "-n", min=0, help="generated events (0: endless)"),
    incident_every: float = typer.Option(
        60.0, "--incident-every", min=0, help="seconds between injected incidents (0: none)"
    ),
) -> None:
    """Generated service traffic (with the personal data real services leak) and the demo's
    attacks, through the SDK, until SIGTERM/SIGINT or --events are sent."""
    import signal
    import threading

    from pipeline.demo.producer import run_producer

    settings = load_settings()
    settings.require("kafka", "registry", what="the demo producer")
    plog.configure(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_producer(
        settings, stop, topic=topic, rate=rate, events=events, incident_every=incident_every
    )


app.command(name="all")(run_all.run_all)
