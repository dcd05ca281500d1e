"""Root settings: the only place auditpipe reads environment variables.

Every variable is prefixed ``AUDITPIPE_``; nested fields use ``__`` (for example
``AUDITPIPE_STACK__KAFKA_PORT=19092``). When ``AUDITPIPE_BOOTSTRAP_SERVERS``,
``AUDITPIPE_SCHEMA_REGISTRY_URL`` or ``AUDITPIPE_S3_ENDPOINTS`` are set, auditpipe talks to
those services instead of the local stack.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.stack.config import StackConfig


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AUDITPIPE_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    stack: StackConfig = Field(default_factory=StackConfig)
    bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers; default: the local stack"
    )
    schema_registry_url: str | None = Field(
        default=None, description="Confluent-compatible registry base URL; default: local stack"
    )
    s3_endpoints: dict[str, str] | None = Field(
        default=None, description='region -> endpoint URL, JSON, e.g. {"us-east-1": "http://..."}'
    )
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error|critical)$")

    # --- resolved endpoints (explicit setting, else the local stack) --------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return self.bootstrap_servers or self.stack.bootstrap_servers

    @property
    def registry_url(self) -> str:
        base = self.schema_registry_url or f"{self.stack.registry_url}/apis/ccompat/v7"
        return base.rstrip("/")

    @property
    def s3_regions(self) -> dict[str, str]:
        if self.s3_endpoints:
            return dict(self.s3_endpoints)
        return {r.name: self.stack.s3_endpoint(r.name) for r in self.stack.s3_regions}

    @property
    def s3_credentials(self) -> tuple[str, SecretStr]:
        return (
            self.s3_access_key_id or self.stack.s3_access_key_id,
            self.s3_secret_access_key or self.stack.s3_secret_access_key,
        )

    @property
    def uses_external_services(self) -> bool:
        return bool(self.bootstrap_servers or self.schema_registry_url or self.s3_endpoints)


def load_settings() -> Settings:
    """Read settings from the environment (and nothing else)."""
    return Settings()
