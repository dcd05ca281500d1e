from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.kafka import acls
from pipeline.kafka.breakglass import Glass, GlassState
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.secured import connection

SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "kafka" / "acls.yaml"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _state(**kw: object) -> GlassState:
    base: dict[str, object] = {
        "principal": "break-glass",
        "opened_by": "alice",
        "reason": "incident 42",
        "opened_at": T0,
        "expires_at": T0 + timedelta(hours=1),
    }
    return GlassState.model_validate({**base, **kw})


def test_due_only_when_open_and_past_expiry() -> None:
    s = _state()
    assert not s.due(T0)
    assert s.due(T0 + timedelta(hours=1))
    closed = s.model_copy(update={"closed_at": T0, "closed_by": "bob"})
    assert not closed.is_open
    assert not closed.due(T0 + timedelta(days=1))


@pytest.mark.parametrize(
    ("reason", "ttl"),
    [(" ", timedelta(hours=1)), ("x", timedelta(0)), ("x", timedelta(hours=5))],
)
def test_open_refuses_no_reason_and_ttl_out_of_bounds(reason: str, ttl: timedelta) -> None:
    # validation comes before any broker call (the bootstrap here is never dialled)
    glass = Glass(acls.load_file(SHIPPED), KafkaConnection(bootstrap_servers="127.0.0.1:1"))
    with pytest.raises(ConfigError):
        glass.open_glass(actor="alice", reason=reason, ttl=ttl, now=T0)


def test_connection_of_a_client_config_keeps_sasl_and_tls() -> None:
    conn = connection(
        {
            "bootstrap.servers": "h:9094",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "admin",
            "sasl.password": "pw",
            "ssl.ca.location": "/ca.pem",
        },
        "cli",
    )
    assert conn.to_librdkafka() == {
        "bootstrap.servers": "h:9094",
        "client.id": "cli",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "admin",
        "sasl.password": "pw",
        "ssl.ca.location": "/ca.pem",
    }
    assert connection({"bootstrap.servers": "h:9092"}, "x").security_protocol == "PLAINTEXT"
