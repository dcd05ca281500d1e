"""Principals' librdkafka properties files (``.stack/secure/clients/<principal>.properties``,
or any file ``kcat -F`` reads) as connections of the client layer, and SCRAM credentials.

:func:`connection_from_properties` turns such a file into a
:class:`~pipeline.kafka.config.KafkaConnection`, from which ``pipeline.kafka.clients`` builds
every client (``acl``, ``break-glass`` and the stack's own admin use it);
:func:`client_config` gives the plain dict for tools and tests that call confluent-kafka
directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

# public names of confluent_kafka.admin, re-exported there without `as` (mypy's strict view)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)
from pydantic import SecretStr

from pipeline.errors import RetryableError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection

SCRAM_ITERATIONS = 8192


def read_properties(path: Path) -> dict[str, str]:
    """Parse a librdkafka/Java-style properties file (``key=value``, ``#`` comments)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not a key=value line: {line[:40]!r}")
        out[key.strip()] = value.strip()
    return out


def client_config(properties: Path, **overrides: Any) -> dict[str, Any]:
    """confluent-kafka config of the principal in ``properties`` (plus ``overrides``)."""
    conf: dict[str, Any] = dict(read_properties(properties))
    conf.update(overrides)
    return conf


def upsert_scram_credentials(
    conn: KafkaConnection, credentials: Mapping[str, str], timeout: float = 30.0
) -> None:
    """Create or replace the SCRAM-SHA-512 credential of each user (idempotent)."""
    admin = clients.admin(conn)
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    alterations: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, info, password.encode())
        for user, password in sorted(credentials.items())
    ]
    futures = admin.alter_user_scram_credentials(alterations, request_timeout=timeout)
    for user, fut in futures.items():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            raise RetryableError(f"could not upsert the SCRAM credential of {user}: {exc}") from exc


def connection(conf: Mapping[str, Any], client_id: str) -> KafkaConnection:
    """The ``KafkaConnection`` of a client config (for code that takes one, like the SDK)."""
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
