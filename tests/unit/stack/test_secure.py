from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cryptography import x509

from pipeline.kafka.secured import client_config, read_properties
from pipeline.stack import secure
from pipeline.stack.config import S3RegionConfig, StackConfig
from pipeline.stack.services import KafkaService


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def _cfg(tmp_path: Path, **kw: object) -> StackConfig:
    return StackConfig(home=tmp_path, kafka_secure_port=19094).model_copy(update=kw)


def test_one_principal_per_role_and_per_archive_region(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, s3_regions=(S3RegionConfig(name="us-east-1", port=1),))
    assert secure.principals(cfg) == (
        "admin",
        "producer",
        "sanitizer",
        "detector",
        "router",
        "analyst",
        "break-glass",
        "archiver-us-east-1",
    )


def test_material_is_private_and_kept_across_calls(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    files = secure.ensure(cfg)
    assert stat.S_IMODE(files.dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(files.clients_dir.stat().st_mode) == 0o700
    for path in [*files.dir.iterdir(), *files.clients_dir.iterdir()]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    creds = files.credentials()
    assert set(creds) == set(secure.principals(cfg))
    assert len(set(creds.values())) == len(creds)  # a password per principal
    ca = files.ca_cert.read_bytes()
    again = secure.ensure(cfg)
    assert again.credentials() == creds
    assert again.ca_cert.read_bytes() == ca


def test_client_properties_are_librdkafka_keys(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    files = secure.ensure(cfg)
    props = read_properties(files.client_properties("analyst"))
    assert props == {
        "bootstrap.servers": "127.0.0.1:19094",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "analyst",
        "sasl.password": files.credentials()["analyst"],
        "ssl.ca.location": str(files.ca_cert),
    }
    conf = client_config(files.client_properties("analyst"), **{"group.id": "g"})
    assert conf["group.id"] == "g"
    assert conf["sasl.username"] == "analyst"


def test_broker_certificate_is_signed_by_the_ca_for_the_host(tmp_path: Path) -> None:
    files = secure.ensure(_cfg(tmp_path))
    pem = files.broker_keystore.read_text()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka's PEM store reads
    cert = x509.load_pem_x509_certificates(pem.split("-----END PRIVATE KEY-----")[1].encode())[0]
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    # the standard library accepts the chain too
    ctx = ssl.create_default_context(cafile=str(files.ca_cert))
    assert ctx.cert_store_stats()["x509_ca"] == 1


def test_dev_mode_keeps_plaintext_with_anonymous_super_user(tmp_path: Path) -> None:
    props = _props(KafkaService(_cfg(tmp_path)).server_properties())
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:ANONYMOUS"
    assert "SASL_SSL://127.0.0.1:19094" in props["listeners"]
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"


def test_secure_mode_has_no_plaintext_listener_and_one_super_user(tmp_path: Path) -> None:
    props = _props(KafkaService(_cfg(tmp_path, secure=True)).server_properties())
    assert "PLAINTEXT://" not in props["listeners"]
    assert props["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["super.users"] == "User:admin;User:broker"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
