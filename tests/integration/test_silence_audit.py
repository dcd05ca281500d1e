"""Silences join the audit trail (issue 12): `silence add`, `expire` and `prune` are each an
ADMIN audit event on audit.raw.auditpipe-silences naming who, which silence and why (real
broker); a dry-run prune and expiring an expired silence emit none."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.archive.lifecycle.audit import operator
from pipeline.cli.main import app
from pipeline.kafka.config import KafkaConnection
from pipeline.replay.filters import compile_filters
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import ListSink
from pipeline.replay.window import Window
from pipeline.route.silencelog import AUDIT_SERVICE, load_silences, put_silence
from pipeline.route.silences import Silence
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def _events(stack: Settings, since: datetime, topic: str) -> list[dict[str, Any]]:
    sink = ListSink()
    flt = compile_filters([f"details.silences_topic='{topic}'"])
    replay_kafka(stack, f"audit.raw.{AUDIT_SERVICE}", Window(since, None), flt, sink)
    return sorted(sink.events, key=lambda e: str(e["ts"]))


@pytest.fixture
def silences_topic(topic_factory: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A compacted silences topic of the test's own, the one the CLI uses."""
    name = topic_factory("test.silences", partitions=1, **{"cleanup.policy": "compact"})
    monkeypatch.setenv("AUDITPIPE_TOPICS__SILENCES", name)
    return name


def test_silence_changes_are_admin_audit_events(
    stack: Settings, kafka_conn: KafkaConnection, silences_topic: str
) -> None:
    topic = silences_topic
    t0 = datetime.now(UTC)
    runner = CliRunner()
    comment = f"maintenance {uuid.uuid4().hex[:6]}"
    added = runner.invoke(
        app,
        ["silence", "add", "-m", 'rule_id="auth.mfa_disabled"', "-d", "1h", "--comment", comment],
    )
    assert added.exit_code == 0, added.output
    sid = added.output.splitlines()[0].strip()
    expired = runner.invoke(app, ["silence", "expire", sid])
    assert expired.exit_code == 0, expired.output
    again = runner.invoke(app, ["silence", "expire", sid])
    assert "had already expired" in again.output

    old = Silence.model_validate(
        {
            "id": "sil-old",
            "matchers": ['rule_id="x"'],
            "starts_at": t0 - timedelta(days=3),
            "ends_at": t0 - timedelta(days=2),
            "created_by": "someone",
            "comment": "long gone",
        }
    )
    put_silence(kafka_conn, topic, old)
    dry = runner.invoke(app, ["silence", "prune", "--keep", "1d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    pruned = runner.invoke(app, ["silence", "prune", "--keep", "1d"])
    assert pruned.exit_code == 0, pruned.output
    assert load_silences(kafka_conn, topic).get("sil-old") is None

    events = _events(stack, t0, topic)
    assert [e["action"] for e in events] == ["silence.create", "silence.expire", "silence.prune"]
    create, expire, prune = events
    for e in events:
        assert e["category"] == "ADMIN"
        assert e["actor"]["id"] == operator()
    assert create["target"] == {"type": "silence", "id": sid}
    assert create["details"]["matchers"] == 'rule_id="auth.mfa_disabled"'
    assert create["details"]["comment"] == comment
    assert expire["target"]["id"] == sid
    assert expire["details"]["expiry"] == "ended"
    assert prune["details"]["silence_ids"] == "sil-old"
    assert prune["details"]["count"] == "1"
