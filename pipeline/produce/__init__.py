"""The producer SDK that services use to emit audit events."""

from pipeline.produce.config import ProducerConfig
from pipeline.produce.producer import AuditProducer, ProducerStats

__all__ = ["AuditProducer", "ProducerConfig", "ProducerStats"]
