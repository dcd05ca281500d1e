"""`auditpipe silence prune` on the real broker: silences that ended longer ago than --keep are
tombstoned; recent, active and pending ones stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.errors import ConfigError
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topicio import read_to_end
from pipeline.route.silencelog import load_silences, put_silence
from pipeline.route.silences import Silence
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def _silence(sid: str, starts: datetime, ends: datetime) -> Silence:
    return Silence.model_validate(
        {
            "id": sid,
            "matchers": ['rule_id="test.prune"'],
            "starts_at": starts,
            "ends_at": ends,
            "created_by": "test",
            "comment": "prune test",
        }
    )


def test_prune_tombstones_only_long_expired_silences(
    stack: Settings,
    kafka_conn: KafkaConnection,
    topic_factory: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = topic_factory("test.silences", partitions=1, **{"cleanup.policy": "compact"})
    monkeypatch.setenv("AUDITPIPE_TOPICS__SILENCES", topic)
    now = datetime.now(UTC)
    day = timedelta(days=1)
    silences = {
        "sil-old": _silence("sil-old", now - 3 * day, now - 2 * day),
        "sil-recent": _silence("sil-recent", now - 2 * day, now - timedelta(hours=1)),
        "sil-active": _silence("sil-active", now - day, now + day),
        "sil-pending": _silence("sil-pending", now + day, now + 2 * day),
    }
    for s in silences.values():
        put_silence(kafka_conn, topic, s)

    runner = CliRunner()
    dry = runner.invoke(app, ["silence", "prune", "--keep", "1d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete sil-old" in dry.output
    assert {s.id for s in load_silences(kafka_conn, topic).all()} == set(silences)

    done = runner.invoke(app, ["silence", "prune", "--keep", "1d"])
    assert done.exit_code == 0, done.output
    assert "deleted sil-old" in done.output
    assert {s.id for s in load_silences(kafka_conn, topic).all()} == {
        "sil-recent",
        "sil-active",
        "sil-pending",
    }
    # a tombstone, so compaction can drop the silence for good
    assert (b"sil-old", None) in list(read_to_end(kafka_conn, topic))

    again = runner.invoke(app, ["silence", "prune", "--keep", "30m"])
    assert again.exit_code == 0, again.output
    assert "deleted sil-recent" in again.output
    assert {s.id for s in load_silences(kafka_conn, topic).all()} == {"sil-active", "sil-pending"}

    bad = runner.invoke(app, ["silence", "prune", "--keep", "soon"])
    assert isinstance(bad.exception, ConfigError)  # the console script prints it, exit 2
    assert "--keep: not a duration" in str(bad.exception)
