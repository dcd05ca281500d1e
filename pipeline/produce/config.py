"""Configuration of the producer SDK."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.kafka.config import KafkaConnection


class ProducerConfig(BaseModel):
    """How a service emits audit events. Defaults favour never losing an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka: KafkaConnection
    registry_url: str = Field(min_length=1, description="Confluent-compatible registry base URL")
    service: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    environment: str = Field(default="dev", min_length=1)
    topic: str | None = Field(default=None, description="default: audit.raw.<service>")
    linger_ms: int = Field(default=20, ge=0, le=5000)
    batch_bytes: int = Field(default=512 * 1024, ge=1024)
    compression: str = Field(default="zstd", pattern=r"^(none|gzip|snappy|lz4|zstd)$")
    queue_max_messages: int = Field(default=100_000, ge=10, description="bounded memory")
    queue_max_kbytes: int = Field(default=64 * 1024, ge=1024)
    message_timeout_ms: int = Field(
        default=30_000, ge=1000, description="undelivered this long: moved to the spool"
    )
    block_timeout_s: float = Field(
        default=0.5, ge=0, description="emit() waits at most this long for queue space, then spools"
    )
    spool_dir: Path = Field(default=Path(".auditpipe-spool"))
    spool_fsync_interval_s: float = Field(default=0.2, ge=0)
    auto_register_schema: bool = True
    scrub: bool = Field(
        default=True, description="apply the scrub policy before sending (opt out per producer)"
    )
    scrub_policy: Path | None = Field(default=None, description="default: rules/scrub.yaml")
    scrub_keys_file: Path | None = Field(
        default=None, description="pseudonym key file; without it pseudonyms are the sanitizer's"
    )

    @property
    def default_topic(self) -> str:
        return self.topic or f"audit.raw.{self.service}"

    def librdkafka(self) -> dict[str, object]:
        return {
            **self.kafka.to_librdkafka(),
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": self.compression,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_bytes,
            "queue.buffering.max.messages": self.queue_max_messages,
            "queue.buffering.max.kbytes": self.queue_max_kbytes,
            "message.timeout.ms": self.message_timeout_ms,
        }
