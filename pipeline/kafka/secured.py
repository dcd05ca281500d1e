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

from pipeline.errors import RetryableError
from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.properties import connection, connection_from_properties, read_properties

__all__ = [
    "client_config",
    "connection",
    "connection_from_properties",
    "read_properties",
    "upsert_scram_credentials",
]

SCRAM_ITERATIONS = 8192


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
