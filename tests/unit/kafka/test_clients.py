"""The client layer hands the security settings of production settings to librdkafka (the
exact dict each confluent-kafka client was built with) and to faust (its public
``broker_credentials`` setting, and what faust's aiokafka driver derives from it).

The clients are real confluent-kafka clients (librdkafka checks the keys, loads the CA and
initialises SCRAM when they are built); their bootstrap address is a port nothing listens on.
"""

from __future__ import annotations

import datetime
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry

from pipeline.archive.format.keys import Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.stream import ArchiverStage
from pipeline.detect.loop import DetectorLoop, LoopOptions
from pipeline.kafka import clients
from pipeline.kafka.stage import BatchStage, StageConfig
from pipeline.kafka.topicio import AsyncProducer
from pipeline.route.config import load_routing
from pipeline.route.metrics import RouterMetrics
from pipeline.route.stage import RouterOptions, RouterStage
from pipeline.settings import KafkaSettings, Settings

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "s3cr3t-from-the-file"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ca(path: Path) -> Path:
    """A self-signed CA certificate (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditpipe-test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def production(tmp_path: Path) -> Settings:
    password_file = tmp_path / "sasl-password"
    password_file.write_text(PASSWORD + "\n")
    return Settings(
        profile="production",
        bootstrap_servers=f"127.0.0.1:{_free_port()}",
        schema_registry_url=f"http://127.0.0.1:{_free_port()}",
        kafka=KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="svc-pipeline",
            sasl_password_file=password_file,
            ssl_ca_location=_ca(tmp_path / "ca.pem"),
        ),
    )


def _expected(settings: Settings, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": client_id,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc-pipeline",
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(settings.kafka.ssl_ca_location),
    }


def _security(config: Any) -> dict[str, Any]:
    keys = ("bootstrap.servers", "client.id", "security.protocol", "ssl.ca.location")
    return {k: v for k, v in config.items() if k in keys or k.startswith("sasl.")}


class _Nothing:
    def process(self, msg: Any) -> list[Any]:
        return []


def test_sanitizer_stage_hands_sasl_ssl_to_librdkafka(production: Settings) -> None:
    # as pipeline.sanitizer.runner builds it
    conn = clients.connection(production, "auditpipe-sanitizer")
    stage = BatchStage(conn, StageConfig(group_id="g", topics=["t"]), _Nothing())
    try:
        for client in (stage._consumer, stage._producer):
            assert _security(client.config) == _expected(production, "auditpipe-sanitizer")
        assert stage._consumer.config["session.timeout.ms"] == 10_000
        assert stage._consumer.config["group.id"] == "g"
    finally:
        stage._consumer.close()


def test_archiver_and_router_hand_sasl_ssl_to_librdkafka(
    production: Settings, tmp_path: Path
) -> None:
    archiver = ArchiverStage(
        clients.connection(production, "archiver-us-east-1"),  # as archive.runner builds it
        FileStore(tmp_path / "archive", fsync=False),
        Signer.generate(),
        topic="audit.events",
        region="us-east-1",
    )
    try:
        consumer = archiver.consumer
        assert isinstance(consumer, clients.Consumer)
        assert _security(consumer.config) == _expected(production, "archiver-us-east-1")
    finally:
        archiver.consumer.close()
    router = RouterStage(
        production,
        load_routing(ROOT / "rules" / "routing.yaml"),
        {  # the receivers' secrets (checked at start), not Kafka's
            "AUDITPIPE_PAGERDUTY_ROUTING_KEY": "k",
            "AUDITPIPE_SLACK_WEBHOOK_URL": "https://hooks.example.com/x",
            "AUDITPIPE_TICKET_TOKEN": "t",
            "AUDITPIPE_BILLING_WEBHOOK_SECRET": "s",
        },
        RouterOptions(),
        RouterMetrics(CollectorRegistry()),
    )
    producer = AsyncProducer(router.conn)
    try:
        assert _security(producer._producer.config) == _expected(production, "auditpipe-router")
    finally:
        producer.close(timeout=0)


def test_client_id_and_timeouts_come_from_settings(production: Settings) -> None:
    settings = production.model_copy(
        update={
            "kafka": production.kafka.model_copy(
                update={
                    "client_id": "svc-7",
                    "session_timeout_ms": 6000,
                    "max_poll_interval_ms": 60_000,
                }
            )
        }
    )
    consumer = clients.consumer(clients.connection(settings, "ignored"), "g")
    try:
        assert consumer.config["client.id"] == "svc-7"
        assert consumer.config["session.timeout.ms"] == 6000
        assert consumer.config["max.poll.interval.ms"] == 60_000
    finally:
        consumer.close()


def test_detector_hands_sasl_ssl_to_librdkafka(production: Settings, tmp_path: Path) -> None:
    rules = tmp_path / "detection"
    rules.mkdir()
    shutil.copy(ROOT / "rules" / "detection" / "admin.role_grant.yml", rules)
    loop = DetectorLoop(production, rules_dir=rules, options=LoopOptions(app_id="det-test"))
    assert _security(loop.producer.config) == _expected(production, "det-test")
    assert loop.conn.client_id == "det-test"


def test_an_unreadable_password_file_is_a_config_error(production: Settings) -> None:
    from pipeline.errors import ConfigError

    missing = production.kafka.model_copy(update={"sasl_password_file": Path("/nonexistent/pw")})
    with pytest.raises(ConfigError, match="SASL_PASSWORD_FILE"):
        clients.connection(production.model_copy(update={"kafka": missing}), "x")


def test_production_without_a_security_protocol_builds_no_client(production: Settings) -> None:
    from pipeline.errors import ConfigError

    unset = production.kafka.model_copy(update={"security_protocol": None})
    with pytest.raises(ConfigError, match="AUDITPIPE_KAFKA__SECURITY_PROTOCOL"):
        clients.connection(production.model_copy(update={"kafka": unset}), "x")
