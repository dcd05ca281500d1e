"""docker-compose.yml describes the same stack as `auditpipe stack` (no daemon needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.stack.config import StackConfig

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


def test_docker_compose_config_when_the_plugin_exists() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("docker client has no compose plugin")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
