"""librdkafka properties files (``key=value``; what ``kcat -F`` reads and what the local stack
writes per principal under ``.stack/secure/clients/``) as connections of the client layer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from pipeline.errors import ConfigError
from pipeline.kafka.config import KafkaConnection


def read_properties(path: Path) -> dict[str, str]:
    """Parse a librdkafka/Java-style properties file (``key=value``, ``#`` comments)."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read Kafka client config {path}: {exc.strerror}") from exc
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}: not a key=value line")
        out[key.strip()] = value.strip()
    return out


def connection(conf: Mapping[str, Any], client_id: str) -> KafkaConnection:
    """The ``KafkaConnection`` of a client config (for code that takes one, like the SDK)."""
    if "bootstrap.servers" not in conf:
        raise ConfigError("Kafka client config without bootstrap.servers")
    return KafkaConnection(
        bootstrap_servers=str(conf["bootstrap.servers"]),
        client_id=client_id,
        security_protocol=conf.get("security.protocol", "PLAINTEXT"),
        sasl_mechanism=conf.get("sasl.mechanism"),
        sasl_username=conf.get("sasl.username"),
        sasl_password=SecretStr(str(conf["sasl.password"])) if "sasl.password" in conf else None,
        ssl_ca_location=conf.get("ssl.ca.location"),
        ssl_certificate_location=conf.get("ssl.certificate.location"),
        ssl_key_location=conf.get("ssl.key.location"),
        ssl_key_password=(
            SecretStr(str(conf["ssl.key.password"])) if "ssl.key.password" in conf else None
        ),
    )


def connection_from_properties(path: Path, client_id: str) -> KafkaConnection:
    """The connection of the principal whose properties file is ``path``."""
    return connection(read_properties(path), client_id)
