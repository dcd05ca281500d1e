"""Kafka connection settings: snake_case fields mapped to librdkafka keys (and faust settings)
at the boundary. Built from :class:`~pipeline.settings.Settings` by
:func:`pipeline.kafka.clients.connection`."""

from __future__ import annotations

import ssl
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pipeline.settings import SaslMechanism, SecurityProtocol


class KafkaConnection(BaseModel):
    """How to reach a Kafka cluster. ``to_librdkafka`` gives confluent-kafka's config dict,
    ``to_faust`` the faust App's broker settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = Field(min_length=1)
    client_id: str = "auditpipe"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    max_poll_interval_ms: int | None = Field(default=None, ge=1000)  # None: library default

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    def to_librdkafka(self) -> dict[str, Any]:
        """Connection and security keys, common to consumers, producers and admin clients."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        if self.ssl_certificate_location:
            conf["ssl.certificate.location"] = self.ssl_certificate_location
        if self.ssl_key_location:
            conf["ssl.key.location"] = self.ssl_key_location
        if self.ssl_key_password is not None:
            conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        return conf

    def consumer_timeouts(self) -> dict[str, Any]:
        conf: dict[str, Any] = {"session.timeout.ms": self.session_timeout_ms}
        if self.max_poll_interval_ms is not None:
            conf["max.poll.interval.ms"] = self.max_poll_interval_ms
        return conf

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context faust/aiokafka use (None for a plaintext protocol)."""
        if not self.uses_tls:
            return None
        ctx = ssl.create_default_context(cafile=self.ssl_ca_location)
        if self.ssl_certificate_location:
            key_password = self.ssl_key_password
            ctx.load_cert_chain(
                self.ssl_certificate_location,
                self.ssl_key_location,
                key_password.get_secret_value() if key_password is not None else None,
            )
        return ctx

    def to_faust(self) -> dict[str, Any]:
        """faust App settings: broker URL, client id, timeouts and credentials (faust's public
        ``broker_credentials`` / ``ssl_context`` settings)."""
        import faust  # faust is heavy: only the detector needs it

        servers = [h.strip() for h in self.bootstrap_servers.split(",") if h.strip()]
        conf: dict[str, Any] = {
            "broker": ";".join(f"kafka://{h}" for h in servers),
            "broker_client_id": self.client_id,
            "broker_session_timeout": self.session_timeout_ms / 1000,
        }
        if self.max_poll_interval_ms is not None:
            conf["broker_max_poll_interval"] = self.max_poll_interval_ms / 1000
        context = self.ssl_context()
        if self.uses_sasl:
            password = self.sasl_password
            conf["broker_credentials"] = faust.SASLCredentials(
                username=self.sasl_username,
                password=password.get_secret_value() if password is not None else None,
                mechanism=self.sasl_mechanism or "PLAIN",
                ssl_context=context,
            )
        elif context is not None:
            conf["broker_credentials"] = faust.SSLCredentials(context)
        return conf
