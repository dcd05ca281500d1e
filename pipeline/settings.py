"""Root settings: the only place auditpipe reads environment variables.

Every variable is prefixed ``AUDITPIPE_``; nested fields use ``__`` (for example
``AUDITPIPE_KAFKA__SASL_USERNAME=svc`` or ``AUDITPIPE_STACK__KAFKA_PORT=19092``).

Profiles (``AUDITPIPE_PROFILE``):

- ``local`` (the default) keeps the zero-config development experience: every endpoint and
  credential that is not set falls back to the local development stack (Kafka, schema
  registry, two S3 regions on loopback, see ``auditpipe stack``).
- ``production`` has no defaults for endpoints (Kafka, registry, S3), credentials (S3 keys,
  Kafka security protocol and SASL) or keys (HMAC, DLQ, archive signing key). A worker checks
  what it needs with :meth:`Settings.require` before it builds any client, and a missing value
  is a :class:`~pipeline.errors.ConfigError` naming the environment variable(s). The resolved
  properties (``kafka_bootstrap``, ``registry_url``, ``s3_regions``, ``s3_credentials``) raise
  the same error instead of falling back, so no code path can reach the dev stack.

Where the dev defaults live: the local stack's configuration (:class:`StackConfig`: its
addresses, ports and credentials, plus versions and heap sizes) is a model of this module,
because it *is* the local profile's defaults and must stay settable from the environment like
any other setting. ``pipeline.stack`` (which downloads and runs the stack) imports it from here
(``pipeline.stack.config`` re-exports it); this module imports nothing of ``pipeline.stack``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError

ENV_PREFIX = "AUDITPIPE_"
Profile = Literal["local", "production"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
#: what a command can need from the settings (see ``Settings.require``)
Need = Literal[
    "kafka", "registry", "s3_endpoints", "s3_credentials", "hmac_key", "dlq_key", "signing_key"
]


class S3RegionConfig(BaseModel):
    """One S3 "region" of the local stack: a versitygw process with its own port and data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z]{2}-[a-z]+-\d$")
    port: int = Field(ge=1, le=65535)


class StackConfig(BaseModel):
    """The local development stack (``auditpipe stack``); its addresses and credentials are the
    local profile's defaults. Derived paths and endpoints are properties."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Field(default=Path(".stack"), description="data, logs, jars and binaries")
    host: str = "127.0.0.1"
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=9093, ge=1, le=65535)
    kafka_secure_port: int = Field(
        default=9094, ge=1, le=65535, description="SASL_SSL (SCRAM-SHA-512) client listener"
    )
    secure: bool = Field(
        default=False,
        description="secured broker only: no PLAINTEXT client listener, mTLS controller "
        "listener, the admin principal the only super user (`stack up --secure`)",
    )
    registry_port: int = Field(default=8081, ge=1, le=65535)
    s3_regions: tuple[S3RegionConfig, ...] = (
        S3RegionConfig(name="us-east-1", port=7070),
        S3RegionConfig(name="eu-central-1", port=7071),
    )
    s3_access_key_id: str = "auditpipe"
    s3_secret_access_key: SecretStr = SecretStr("auditpipe-local-secret")
    s3_iam: bool = Field(
        default=False,
        description="versitygw's internal IAM and admin API on; `stack up` creates a role "
        "account per archiver, lifecycle, verifier, analyst and the buckets' policies "
        "(pipeline/stack/s3iam.py)",
    )
    s3_admin_port_offset: int = Field(
        default=10, ge=1, le=1000, description="admin API port = the region's S3 port + this"
    )

    kafka_version: str = "4.1.2"
    log4j_version: str = "2.25.3"
    apicurio_version: str = "3.0.9"
    versitygw_version: str = "v1.8.0"
    kafka_heap: str = "512m"
    registry_heap: str = "384m"
    start_timeout_s: float = Field(default=180.0, gt=0)

    @field_validator("s3_regions")
    @classmethod
    def _distinct_regions(cls, v: tuple[S3RegionConfig, ...]) -> tuple[S3RegionConfig, ...]:
        if len({r.name for r in v}) != len(v) or len({r.port for r in v}) != len(v):
            raise ValueError("S3 regions must have distinct names and ports")
        return v

    # --- derived paths -------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.home.resolve()

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def kafka_lib_dir(self) -> Path:
        return self.root / "lib" / f"kafka-{self.kafka_version}"

    @property
    def apicurio_jar(self) -> Path:
        v = self.apicurio_version
        return self.root / "opt" / f"apicurio-{v}" / f"apicurio-registry-app-{v}-runner.jar"

    @property
    def versitygw_bin(self) -> Path:
        return self.root / "bin" / f"versitygw-{self.versitygw_version}"

    # --- endpoints -------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def secure_bootstrap_servers(self) -> str:
        return f"{self.host}:{self.kafka_secure_port}"

    @property
    def registry_url(self) -> str:
        return f"http://{self.host}:{self.registry_port}"

    def s3_endpoint(self, region: str) -> str:
        for r in self.s3_regions:
            if r.name == region:
                return f"http://{self.host}:{r.port}"
        raise KeyError(region)


class KafkaSettings(BaseModel):
    """How every Kafka client reaches the cluster (``AUDITPIPE_KAFKA__*``); the bootstrap
    servers are ``AUDITPIPE_BOOTSTRAP_SERVERS``. Mapped to librdkafka and faust only by
    ``pipeline.kafka.clients``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    security_protocol: SecurityProtocol | None = Field(
        default=None, description="local default PLAINTEXT; production: required"
    )
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = Field(default=None, description="or sasl_password_file")
    sasl_password_file: Path | None = None
    ssl_ca_location: Path | None = Field(default=None, description="CA bundle (PEM)")
    ssl_certificate_location: Path | None = Field(default=None, description="client cert (PEM)")
    ssl_key_location: Path | None = Field(default=None, description="client key (PEM)")
    ssl_key_password: SecretStr | None = None
    client_config: Path | None = Field(
        default=None,
        description="a librdkafka properties file (bootstrap.servers, security.protocol, "
        "sasl.*, ssl.*), e.g. .stack/secure/clients/<principal>.properties; when set it "
        "replaces the bootstrap servers and every security field above",
    )
    client_id: str | None = Field(default=None, description="default: one per stage")
    session_timeout_ms: int = Field(
        default=10_000,
        ge=1000,
        description="how soon a killed worker's partitions move to another (every consumer)",
    )
    max_poll_interval_ms: int | None = Field(
        default=None,
        ge=1000,
        description="longest gap between polls before a consumer leaves the group; default: "
        "the client library's (librdkafka 300 s, faust 1000 s)",
    )

    @property
    def uses_sasl(self) -> bool:
        return (self.security_protocol or "").startswith("SASL_")


class HealthConfig(BaseModel):
    """Where each stage serves ``/healthz``, ``/readyz`` and ``/metrics`` (``AUDITPIPE_HEALTH__*``,
    served by ``pipeline.ops``).

    Loopback and off by default (a developer's machine runs several stages side by side); the
    container image sets ``AUDITPIPE_HEALTH__HOST=0.0.0.0`` and ``AUDITPIPE_HEALTH__PORT=9400``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", min_length=1, description="bind address")
    port: int = Field(default=0, ge=0, le=65535, description="0: no server")
    probe_interval_s: float = Field(
        default=5.0, gt=0, description="seconds between looks at the broker and the group"
    )
    stall_after_s: float = Field(
        default=120.0,
        gt=0,
        description="not ready when the group has lag and its committed offsets did not move "
        "for this long; not live after three times this",
    )


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


class SanitizerConfig(BaseModel):
    """What the sanitizer accepts, and its clock-skew watch (``AUDITPIPE_SANITIZER__*``).
    A record outside a limit goes to the DLQ with the reason code named here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_event_bytes: int = Field(
        default=64 * 1024, ge=1024, description="raw value size (oversize_event)"
    )
    trust_pseudonyms: bool = Field(
        default=False,
        description="keep a value that is exactly a pseudonym of one of our key versions "
        "(made by a keyed SDK) instead of pseudonymizing it again; off: a producer cannot "
        "pass a copied pseudonym as its own, but a keyed SDK's pseudonyms are then "
        "pseudonymized twice and do not join with the sanitizer's own",
    )
    max_field_bytes: int = Field(
        default=16 * 1024, ge=64, description="UTF-8 size of any one string (oversize_field)"
    )
    max_entries: int = Field(
        default=1000, ge=32, description="entries of any map or list (too_many_entries)"
    )
    max_future_s: float = Field(
        default=3600.0, ge=0, description="how far ts may be ahead of the clock (ts_future)"
    )
    max_age_s: float = Field(
        default=5 * 365 * 86400.0,
        gt=0,
        description="how far ts may be behind the clock (ts_past); generous: replays, spooled "
        "events and fixed-date test data are old but real",
    )
    dedup_window: int = Field(
        default=10_000,
        ge=0,
        description="event ids remembered per partition to drop duplicates (0: off)",
    )
    skew_ahead_s: float = Field(
        default=120.0, gt=0, description="a service's clock this far ahead raises a SYSTEM alert"
    )
    skew_behind_s: float = Field(
        default=1800.0,
        gt=0,
        description="a service's clock this far behind raises a SYSTEM alert (larger: delivery "
        "delays, a spool emptied after an outage, look the same)",
    )
    skew_max_s: float = Field(
        default=86400.0,
        gt=0,
        description="a gap larger than this is old or replayed data, not a clock: no alert",
    )
    skew_window_s: float = Field(
        default=3600.0, gt=0, description="at most one skew alert per service per window"
    )
    skew_min_events: int = Field(
        default=3, ge=1, description="events of a window before its skew is judged"
    )
    skew_max_services: int = Field(
        default=1000, ge=1, description="services whose skew is tracked at once (memory bound)"
    )


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
    alerts: bool = Field(
        default=True, description="also archive audit.alerts, each alert as an audit event"
    )
    alerts_environment: str = Field(
        default="prod", min_length=1, description="`environment` of the archived alert events"
    )

    def bucket(self, region: str) -> str:
        return f"{self.bucket_prefix}-{region}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    profile: Profile = Field(
        default="local", description="local: dev-stack defaults; production: no defaults"
    )
    stack: StackConfig = Field(default_factory=StackConfig)
    bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers; local default: the local stack"
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    schema_registry_url: str | None = Field(
        default=None, description="Confluent-compatible registry base URL; local default: stack"
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
    sanitizer: SanitizerConfig = Field(default_factory=SanitizerConfig)
    health: HealthConfig = Field(
        default_factory=HealthConfig, description="/healthz, /readyz, /metrics server"
    )

    @property
    def production(self) -> bool:
        return self.profile == "production"

    # --- what is missing (production) -----------------------------------------------------
    def missing(self, needs: Iterable[Need]) -> list[str]:
        """The environment variables a process lacks for ``needs``. Under the local profile
        endpoints and credentials default to the local stack's; keys (HMAC, DLQ, signing) and
        SASL values, once a SASL protocol is chosen, have no default in either profile."""
        out: list[str] = []
        k = self.kafka
        for need in needs:
            if need == "kafka" and k.client_config is not None:
                continue  # the file names the servers and the credentials
            if need == "kafka":
                if self.production and not self.bootstrap_servers:
                    out.append(f"{ENV_PREFIX}BOOTSTRAP_SERVERS")
                if self.production and k.security_protocol is None:
                    out.append(f"{ENV_PREFIX}KAFKA__SECURITY_PROTOCOL")
                elif k.uses_sasl:  # SASL has no defaults in either profile
                    if k.sasl_mechanism is None:
                        out.append(f"{ENV_PREFIX}KAFKA__SASL_MECHANISM")
                    if k.sasl_username is None:
                        out.append(f"{ENV_PREFIX}KAFKA__SASL_USERNAME")
                    if k.sasl_password is None and k.sasl_password_file is None:
                        out.append(
                            f"{ENV_PREFIX}KAFKA__SASL_PASSWORD or "
                            f"{ENV_PREFIX}KAFKA__SASL_PASSWORD_FILE"
                        )
            elif need == "registry" and self.production and not self.schema_registry_url:
                out.append(f"{ENV_PREFIX}SCHEMA_REGISTRY_URL")
            elif need == "s3_endpoints" and self.production and not self.s3_endpoints:
                out.append(f"{ENV_PREFIX}S3_ENDPOINTS")
            elif need == "s3_credentials" and self.production:
                if not self.s3_access_key_id:
                    out.append(f"{ENV_PREFIX}S3_ACCESS_KEY_ID")
                if self.s3_secret_access_key is None:
                    out.append(f"{ENV_PREFIX}S3_SECRET_ACCESS_KEY")
            elif need == "hmac_key" and self.hmac_key is None and self.hmac_key_file is None:
                out.append(f"{ENV_PREFIX}HMAC_KEY or {ENV_PREFIX}HMAC_KEY_FILE")
            elif need == "dlq_key" and self.dlq_key is None:
                out.append(f"{ENV_PREFIX}DLQ_KEY")
            elif need == "signing_key" and self.archive.signing_key is None:
                out.append(f"{ENV_PREFIX}ARCHIVE__SIGNING_KEY")
        return list(dict.fromkeys(out))

    def require(self, *needs: Need, what: str = "this command") -> None:
        """Stop at start (before any client is built) when a value ``needs`` is missing."""
        missing = self.missing(needs)
        if missing:
            raise ConfigError(
                f"{what} is missing settings (profile {self.profile}): set " + ", ".join(missing)
            )

    def _need(self, value: Any, var: str) -> None:
        if self.production and not value:
            raise ConfigError(f"profile production has no default: set {ENV_PREFIX}{var}")

    # --- resolved endpoints (explicit setting, else the local stack; production: required) -----
    @property
    def kafka_bootstrap(self) -> str:
        self._need(self.bootstrap_servers, "BOOTSTRAP_SERVERS")
        return self.bootstrap_servers or self.stack.bootstrap_servers

    @property
    def registry_url(self) -> str:
        self._need(self.schema_registry_url, "SCHEMA_REGISTRY_URL")
        base = self.schema_registry_url or f"{self.stack.registry_url}/apis/ccompat/v7"
        return base.rstrip("/")

    @property
    def s3_regions(self) -> dict[str, str]:
        if self.s3_endpoints:
            return dict(self.s3_endpoints)
        self._need(self.s3_endpoints, "S3_ENDPOINTS")
        return {r.name: self.stack.s3_endpoint(r.name) for r in self.stack.s3_regions}

    @property
    def s3_credentials(self) -> tuple[str, SecretStr]:
        self._need(self.s3_access_key_id, "S3_ACCESS_KEY_ID")
        self._need(self.s3_secret_access_key, "S3_SECRET_ACCESS_KEY")
        return (
            self.s3_access_key_id or self.stack.s3_access_key_id,
            self.s3_secret_access_key or self.stack.s3_secret_access_key,
        )

    @property
    def uses_external_services(self) -> bool:
        return self.production or bool(
            self.bootstrap_servers or self.schema_registry_url or self.s3_endpoints
        )


def load_settings() -> Settings:
    """Read settings from the environment (and nothing else)."""
    return Settings()


def environment_names() -> frozenset[str]:
    """The ``AUDITPIPE_*`` variables set in the environment (for ``auditpipe config show``)."""
    return frozenset(k.upper() for k in os.environ if k.upper().startswith(ENV_PREFIX))
