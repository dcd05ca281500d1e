"""Prometheus metrics of the sanitizer. Labels are bounded enums (error type, detector kind,
topic), never values from an event."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SanitizerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events_in = Counter(
            "auditpipe_sanitizer_events_in", "raw records consumed", registry=registry
        )
        self.events_out = Counter(
            "auditpipe_sanitizer_events_out", "scrubbed events produced", registry=registry
        )
        self.dead_letters = Counter(
            "auditpipe_sanitizer_dead_letters",
            "records sent to the DLQ, by error type and reason code (pipeline.events.dlq.Reason)",
            ["error_type", "reason"],
            registry=registry,
        )
        self.redactions = Counter(
            "auditpipe_sanitizer_redactions",
            "values treated by the scrubber, by detector kind and treatment",
            ["kind", "treatment"],
            registry=registry,
        )
        self.duplicates = Counter(
            "auditpipe_sanitizer_duplicates",
            "records dropped because their event id is in the partition's recent-id window",
            registry=registry,
        )
        self.clock_skew = Gauge(
            "auditpipe_sanitizer_clock_skew_seconds",
            "clock skew of a service in the current window (positive: its clock is behind); "
            "services outside the service catalog are labelled 'other'",
            ["service"],
            registry=registry,
        )
        self.skew_alerts = Counter(
            "auditpipe_sanitizer_skew_alerts",
            "SYSTEM clock-skew alerts raised",
            registry=registry,
        )
        self.latency = Histogram(
            "auditpipe_sanitizer_latency_seconds",
            "from the raw record's timestamp to the scrubbed event being handed to the producer",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
