"""`run all`'s plan: stages, arguments, ports, start and stop order; the receiver's address
from the routing file; crash restarts; development keys (pure logic)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.route.config import load_routing
from pipeline.runall import plan as P
from pipeline.runall.devkeys import DevKeys
from pipeline.runall.session import DEFAULT_ROUTING, Restarts
from pipeline.settings import ArchiveConfig, Settings

ROOT = Path(__file__).resolve().parents[3]


def _plan(producer: bool = False) -> P.Plan:
    regions = ("us-east-1", "eu-central-1")
    workers = P.Plan.workers(regions)
    return P.Plan(
        routing=Path("r.yaml"),
        regions=regions,
        receiver_host="127.0.0.1",
        receiver_port=9470,
        secret_file=Path("/k/webhook.secret"),
        deliveries=Path("/d.jsonl"),
        health_ports={n: 9401 + i for i, n in enumerate(workers)},
        producer=producer,
        rate=25,
        events=100,
    )


def test_stages_in_start_order_with_their_arguments() -> None:
    stages = {s.name: s for s in _plan(producer=True).stages()}
    assert list(stages) == [
        "webhook-receiver",
        "sanitizer",
        "detector",
        "router",
        "archiver-us-east-1",
        "archiver-eu-central-1",
        "producer",
    ]
    assert stages["router"].argv == ("run", "router", "--config", "r.yaml")
    assert stages["detector"].argv == ("run", "detector")  # a black box: no options of ours
    assert stages["archiver-eu-central-1"].argv[-2:] == ("--region", "eu-central-1")
    assert stages["sanitizer"].env == {"AUDITPIPE_HEALTH__PORT": "9401"}
    assert stages["sanitizer"].ready_url == "http://127.0.0.1:9401/readyz"
    rcv = stages["webhook-receiver"]
    assert rcv.ready_url == "http://127.0.0.1:9470/healthz"
    assert "--secret-file" in rcv.argv  # the secret itself never on a command line
    assert stages["producer"].ready_url is None
    assert "--rate" in stages["producer"].argv
    assert "25" in stages["producer"].argv


def test_extra_args_go_after_the_plans_own() -> None:
    plan = replace(
        _plan(producer=True), extra_args={"sanitizer": ("--group", "g"), "producer": ("--seed",)}
    )
    stages = {s.name: s for s in plan.stages()}
    assert stages["sanitizer"].argv == ("run", "sanitizer", "--group", "g")
    assert stages["producer"].argv[:2] == ("run", "demo-producer")
    assert stages["producer"].argv[-1] == "--seed"
    assert stages["detector"].argv == ("run", "detector")


def test_stop_order_producer_first_receiver_last() -> None:
    assert _plan(producer=True).stop_order() == [
        "producer",
        "sanitizer",
        "detector",
        "router",
        "archiver-us-east-1",
        "archiver-eu-central-1",
        "webhook-receiver",
    ]
    assert "producer" not in _plan().stop_order()
    assert "producer" not in [s.name for s in _plan().stages()]


def test_the_demo_routing_file_points_every_webhook_at_one_local_receiver() -> None:
    config = load_routing(ROOT / DEFAULT_ROUTING)
    hooks = P.local_webhooks(config)
    assert {h.receiver for h in hooks} == {r.name for r in config.receivers}
    assert P.receiver_address(hooks, DEFAULT_ROUTING) == ("127.0.0.1", 9470)


def test_routing_without_or_with_several_local_receivers_is_refused(tmp_path: Path) -> None:
    shipped = load_routing(ROOT / "rules" / "routing.yaml")  # production: nothing on loopback
    with pytest.raises(ConfigError, match=r"no webhook receiver on 127\.0\.0\.1"):
        P.receiver_address(P.local_webhooks(shipped), Path("rules/routing.yaml"))
    two = [
        P.LocalWebhook("a", "127.0.0.1", 1000, "A"),
        P.LocalWebhook("b", "127.0.0.1", 1001, "B"),
    ]
    with pytest.raises(ConfigError, match="several addresses"):
        P.receiver_address(two, Path("x.yaml"))


def test_localhost_and_default_ports_count_as_local(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "route: {receiver: a}\n"
        "receivers:\n"
        "  - {name: a, type: webhook, url: 'http://localhost/x', secret_env: A}\n"
        "  - {name: b, type: webhook, url: 'https://hooks.example.com/x', secret_env: B}\n"
    )
    hooks = P.local_webhooks(load_routing(path))
    assert hooks == [P.LocalWebhook("a", "localhost", 80, "A")]


def test_free_ports_are_distinct() -> None:
    ports = P.free_ports(5)
    assert len(set(ports)) == 5
    assert all(p > 0 for p in ports)


def test_restarts_are_limited_per_stage() -> None:
    r = Restarts(limit=2)
    assert [r.allow("a") for _ in range(3)] == [True, True, False]
    assert r.allow("b")


def test_dev_keys_are_made_once_and_fill_only_what_is_missing(tmp_path: Path) -> None:
    keys = DevKeys.ensure(tmp_path / "demo")
    again = DevKeys.ensure(tmp_path / "demo")
    assert keys == again
    assert len(keys.webhook_secret) == 64
    assert (keys.webhook_secret_file.stat().st_mode & 0o777) == 0o600
    assert set(keys.env()) == {
        "AUDITPIPE_HMAC_KEY",
        "AUDITPIPE_DLQ_KEY",
        "AUDITPIPE_ARCHIVE__SIGNING_KEY",
    }
    configured = Settings(
        hmac_key="k" * 32,  # type: ignore[arg-type]
        hmac_key_file=None,
        dlq_key=None,
        archive=ArchiveConfig(signing_key=None),
    )
    assert set(keys.env(configured)) == {"AUDITPIPE_DLQ_KEY", "AUDITPIPE_ARCHIVE__SIGNING_KEY"}
