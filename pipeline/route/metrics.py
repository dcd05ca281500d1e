"""Prometheus metrics of the router. Labels are bounded: receiver names come from the routing
file and reasons from a fixed set; never a value from an alert."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RouterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts_in = Counter(
            "auditpipe_router_alerts_in", "alerts consumed from the alerts topic", registry=registry
        )
        self.sent = Counter(
            "auditpipe_router_notifications_sent",
            "notifications delivered, by receiver",
            ["receiver"],
            registry=registry,
        )
        self.failed = Counter(
            "auditpipe_router_notifications_failed",
            "notifications given up after every retry, by receiver",
            ["receiver"],
            registry=registry,
        )
        self.suppressed = Counter(
            "auditpipe_router_notifications_suppressed",
            "alerts kept out of a receiver's notifications, by receiver and reason "
            "(silenced, inhibited)",
            ["receiver", "reason"],
            registry=registry,
        )
        self.attempts = Counter(
            "auditpipe_router_delivery_attempts",
            "delivery attempts, by receiver and outcome",
            ["receiver", "outcome"],
            registry=registry,
        )
        self.pending = Gauge(
            "auditpipe_router_outbox",
            "notifications decided and not yet finished delivering",
            registry=registry,
        )
        self.delivery_latency = Histogram(
            "auditpipe_router_delivery_seconds",
            "from a notification being decided to its delivery finishing, by receiver",
            ["receiver"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
