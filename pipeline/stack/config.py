"""Configuration of the local development stack (versions, ports, directories)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class S3RegionConfig(BaseModel):
    """One S3 "region": a versitygw process with its own port and data directory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z]{2}-[a-z]+-\d$")
    port: int = Field(ge=1, le=65535)


class StackConfig(BaseModel):
    """Everything `auditpipe stack` needs; defaults describe the documented local stack."""

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
