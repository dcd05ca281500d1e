"""Root settings: the only place auditpipe reads environment variables.

Every variable is prefixed ``AUDITPIPE_``; nested fields use ``__`` (for example
``AUDITPIPE_STACK__KAFKA_PORT=19092``). When ``AUDITPIPE_BOOTSTRAP_SERVERS``,
``AUDITPIPE_SCHEMA_REGISTRY_URL`` or ``AUDITPIPE_S3_ENDPOINTS`` are set, auditpipe talks to
those services instead of the local stack.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.ops.config import HealthConfig
from pipeline.stack.config import StackConfig


class TopicsConfig(BaseModel):
    """Topic names (DESIGN.md's defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw_pattern: str = Field(default=r"^audit\.raw\..*", description="regex of the raw topics")
    events: str = "audit.events"
    dlq: str = "audit.dlq"
    alerts: str = "audit.alerts"
    silences: str = Field(default="audit.silences", description="compacted: the router's silences")
    router_state: str = Field(
        default="audit.router.state", description="compacted: the router's durable state"
    )
    router_in: str = Field(
        default="audit.router.by-rule", description="the router's input: alerts keyed by rule_id"
    )
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)


class ArchiveConfig(BaseModel):
    """The archiver: buckets, signing key, batching."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket_prefix: str = Field(default="auditpipe-archive", description="bucket = PREFIX-REGION")
    signing_key: Path | None = Field(default=None, description="Ed25519 private key (PEM)")
    retention_days: int = Field(
        default=730,
        ge=1,
        description="COMPLIANCE retention of objects without a class (flush intents); batches "
        "and checkpoints take theirs from rules/retention.yaml",
    )
    batch_events: int = Field(default=10_000, ge=1)
    batch_age_s: float = Field(default=60.0, gt=0)
    checkpoint_interval_s: float = Field(default=60.0, gt=0)

    def bucket(self, region: str) -> str:
        return f"{self.bucket_prefix}-{region}"


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
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    rules_dir: Path = Field(default=Path("rules"), description="policy, catalog and rule files")
    hmac_key: SecretStr | None = Field(
        default=None, description="pseudonym key (hex or text); or hmac_key_file"
    )
    hmac_key_file: Path | None = None
    hmac_key_version: str = Field(default="k1", pattern=r"^[a-z0-9_-]{1,16}$")
    dlq_key: SecretStr | None = Field(default=None, description="AES-256 key, 64 hex chars")
    dlq_key_id: str = "dlq-k1"
    geo_mmdb: Path | None = Field(default=None, description="optional .mmdb country database")
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)
    health: HealthConfig = Field(
        default_factory=HealthConfig, description="/healthz, /readyz, /metrics server"
    )

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
