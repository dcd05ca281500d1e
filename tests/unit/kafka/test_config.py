from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from pipeline.kafka.config import KafkaConnection


def test_snake_case_maps_to_librdkafka_keys() -> None:
    conn = KafkaConnection(
        bootstrap_servers="a:9092,b:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password=SecretStr("hunter2"),
        ssl_ca_location="/etc/ca.pem",
    )
    assert conn.to_librdkafka() == {
        "bootstrap.servers": "a:9092,b:9092",
        "client.id": "auditpipe",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "hunter2",
        "ssl.ca.location": "/etc/ca.pem",
    }
    assert "hunter2" not in repr(conn)


def test_plaintext_has_no_sasl_keys() -> None:
    conf = KafkaConnection(bootstrap_servers="k:9092").to_librdkafka()
    assert not any(k.startswith("sasl.") for k in conf)


def test_rejects_unknown_fields_and_protocols() -> None:
    with pytest.raises(ValidationError):
        KafkaConnection(bootstrap_servers="k:9092", acks="all")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        KafkaConnection(bootstrap_servers="k:9092", security_protocol="TLS")
    with pytest.raises(ValidationError):
        KafkaConnection(bootstrap_servers="")
