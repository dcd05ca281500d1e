from __future__ import annotations

from pathlib import Path

from pipeline.stack.config import StackConfig
from pipeline.stack.services import KafkaService, S3Service, all_services, new_cluster_id


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_kafka_properties_are_single_node_kraft(tmp_path: Path) -> None:
    cfg = StackConfig(home=tmp_path, kafka_port=19092, kafka_controller_port=19093)
    props = _props(KafkaService(cfg).server_properties())
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:19092,SASL_SSL://127.0.0.1:9094,CONTROLLER://127.0.0.1:19093"
    )
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.dirs"].startswith(str(tmp_path.resolve()))


def test_s3_secret_goes_through_the_environment_not_argv(tmp_path: Path) -> None:
    cfg = StackConfig(home=tmp_path)
    spec = S3Service(cfg, cfg.s3_regions[0]).spec()
    secret = cfg.s3_secret_access_key.get_secret_value()
    assert secret not in " ".join(spec.argv)
    assert spec.env["ROOT_SECRET_ACCESS_KEY"] == secret
    assert "--versioning-dir" in spec.argv
    assert "us-east-1" in spec.argv


def test_every_service_has_its_own_log_and_pid_file(tmp_path: Path) -> None:
    cfg = StackConfig(home=tmp_path)
    names = [s.name for s in all_services(cfg)]
    assert names == ["kafka", "schema-registry", "s3-us-east-1", "s3-eu-central-1"]
    markers = {s.name: s for s in all_services(cfg) if s.name.startswith("s3")}
    specs = [s.spec() for s in markers.values()]
    assert len({s.pid_file for s in specs}) == len(specs)
    assert len({s.marker for s in specs}) == len(specs)


def test_cluster_ids_never_start_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    # without the check one id in 64 starts with "-": 5000 draws all miss it with p ≈ 1e-34
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
