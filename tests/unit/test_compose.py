"""docker-compose.yml: the same infrastructure as `auditpipe stack`, plus every stage; checked
with a real compose CLI's `config` (built by deploy/build-tools.sh; no daemon needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.route.config import load_routing
from pipeline.stack.config import StackConfig
from tests.unit.deploy_tools import tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def _host_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for spec in service.get("ports", []):
        m = re.fullmatch(r"(?:127\.0\.0\.1:)?(\d+):(\d+)", str(spec))
        assert m, f"unexpected port spec {spec!r}"
        ports.add(int(m.group(1)))
    return ports


def test_services_match_the_local_stack(compose: dict[str, Any]) -> None:
    cfg = StackConfig()
    services = compose["services"]
    expected = {"kafka", "schema-registry"} | {f"s3-{r.name}" for r in cfg.s3_regions}
    assert expected <= set(services)
    assert _host_ports(services["kafka"]) == {cfg.kafka_port}
    assert _host_ports(services["schema-registry"]) == {cfg.registry_port}
    for r in cfg.s3_regions:
        svc = services[f"s3-{r.name}"]
        assert _host_ports(svc) == {r.port}
        assert r.name in svc["command"]
        assert "--versioning-dir" in svc["command"]
        assert svc["environment"]["ROOT_ACCESS_KEY_ID"] == cfg.s3_access_key_id
        assert (
            svc["environment"]["ROOT_SECRET_ACCESS_KEY"]
            == cfg.s3_secret_access_key.get_secret_value()
        )


def test_images_pin_the_stack_versions(compose: dict[str, Any]) -> None:
    cfg = StackConfig()
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{cfg.kafka_version}"
    assert services["schema-registry"]["image"].endswith(f":{cfg.apicurio_version}")
    for r in cfg.s3_regions:
        assert services[f"s3-{r.name}"]["image"].endswith(f":{cfg.versitygw_version}")


def test_ports_are_unique_and_volumes_declared(compose: dict[str, Any]) -> None:
    seen: list[int] = []
    declared = set(compose.get("volumes") or {})
    for name, svc in compose["services"].items():
        assert "image" in svc, f"{name} has no image"
        seen.extend(_host_ports(svc))
        for vol in svc.get("volumes", []):
            source = str(vol).split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert len(seen) == len(set(seen)), f"host port used twice: {seen}"


def test_kafka_single_node_overrides(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"


def _config(tmp_path: Path) -> dict[str, Any]:
    """The file as a real compose implementation resolves it (anchors, merges, defaults)."""
    compose_bin = tool("docker-compose")
    secrets = tmp_path / "secrets"
    subprocess.run(
        ["sh", str(ROOT / "deploy" / "compose" / "init-secrets.sh"), str(secrets)],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [str(compose_bin), "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "AUDITPIPE_SECRETS_DIR": str(secrets)},
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


STAGES = ["sanitizer", "detector", "router", "archiver-us-east-1", "archiver-eu-central-1"]


def test_docker_compose_config(tmp_path: Path) -> None:
    services = _config(tmp_path)["services"]
    assert {*STAGES, "setup", "producer", "webhook"} <= set(services)
    setup = services["setup"]
    assert setup["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert setup["depends_on"]["schema-registry"]["condition"] == "service_healthy"
    assert "buckets.py" in " ".join(setup["command"])
    assert "schemas register" in " ".join(setup["command"])
    for name in STAGES:
        svc = services[name]
        assert svc["command"][:2] == ["run", name.split("-")[0]], name
        assert svc["depends_on"]["setup"]["condition"] == "service_completed_successfully"
        assert svc["read_only"] is True
        assert svc["tmpfs"] == ["/tmp"]
        assert "/healthz" in " ".join(svc["healthcheck"]["test"])
        assert [s["source"] for s in svc["secrets"]] == ["archive_signing_key"]
        env = svc["environment"]
        assert env["AUDITPIPE_BOOTSTRAP_SERVERS"] == "kafka:29092"
        assert env["AUDITPIPE_HMAC_KEY"], "keys come from the env file"
        assert set(json.loads(env["AUDITPIPE_S3_ENDPOINTS"])) == {
            r.name for r in StackConfig().s3_regions
        }
    assert services["producer"]["depends_on"]["sanitizer"]["condition"] == "service_healthy"
    assert services["router"]["depends_on"]["webhook"]["condition"] == "service_started"


def test_one_archiver_per_region(compose: dict[str, Any]) -> None:
    regions = {r.name for r in StackConfig().s3_regions}
    archivers = {
        name: svc for name, svc in compose["services"].items() if name.startswith("archiver-")
    }
    assert {svc["command"][-1] for svc in archivers.values()} == regions


def test_compose_routing_file_loads() -> None:
    routing = load_routing(ROOT / "deploy" / "compose" / "routing.yaml")
    receiver = routing.receiver("local-webhook")
    assert "webhook:8080" in str(getattr(receiver, "url", ""))
