"""The declared topic table (rules/topics.yaml): parsing, strictness, the configs it sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import RuleError
from pipeline.kafka import topics
from pipeline.settings import Settings, TopicsConfig

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "rules" / "topics.yaml"
DAY = 86_400_000


def _settings(**topic_names: str) -> Settings:
    return Settings(topics=TopicsConfig(**topic_names))


def test_the_shipped_table_keeps_raw_and_dlq_short_and_events_for_replay() -> None:
    t = topics.load_table(SHIPPED).topics
    assert (t.raw.retention or 0) <= 3 * DAY
    assert (t.dlq.retention or 0) <= 7 * DAY
    assert t.events.retention == 14 * DAY  # the archiver's catch-up bound (archive issue)
    for role in ("raw", "events", "dlq", "alerts", "router_in"):
        policy = getattr(t, role)
        assert 0 < (policy.segment or 0) <= DAY, role
    assert t.silences.cleanup == t.router_state.cleanup == "compact"


@pytest.mark.parametrize(
    ("text", "ms"),
    [("3 days", 3 * DAY), ("1 hour", 3_600_000), ("250 ms", 250), ("2 weeks", 14 * DAY)],
)
def test_durations(text: str, ms: int) -> None:
    assert topics.parse_ms(text) == ms


@pytest.mark.parametrize("text", ["3 fortnights", "0 days", "-1 days", "days", "1.5 hours"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        topics.parse_ms(text)


def test_configs_of_a_deleting_and_a_compacted_topic() -> None:
    specs = {s.name: s for s in topics.pipeline_topics(_settings(), topics.load_table(SHIPPED))}
    events = specs["audit.events"].config
    assert events["cleanup.policy"] == "delete"
    assert events["retention.ms"] == str(14 * DAY)
    assert events["segment.ms"] == str(DAY)
    state = specs["audit.router.state"].config
    assert (state["cleanup.policy"], state["retention.ms"]) == ("compact", "-1")
    assert state["max.message.bytes"] == str(16 * 1024 * 1024)
    assert specs["audit.silences"].partitions == 1


def test_names_come_from_settings_and_raw_topics_by_pattern() -> None:
    s = _settings(events="x.events", raw_pattern=r"^x\.raw\.")
    table = topics.load_table(SHIPPED)
    assert topics.declared_for(s, table, "x.events").role == "events"  # type: ignore[union-attr]
    raw = topics.declared_for(s, table, "x.raw.billing")
    assert raw is not None
    assert raw.role == "raw"
    assert raw.spec.config["retention.ms"] == str(table.topics.raw.retention)
    assert topics.declared_for(s, table, "audit.events") is None  # not ours under these names
    assert topics.declared_for(s, table, "audit.notify.ops") is None


def test_bound_is_retention_plus_segment() -> None:
    t = topics.load_table(SHIPPED).topics
    assert t.raw.bound_ms == (t.raw.retention or 0) + (t.raw.segment or 0)
    assert t.silences.bound_ms is None


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "topics.yaml"
    p.write_text(text)
    return p


def _table(**overrides: str) -> str:
    roles = {
        "raw": "{description: r, retention: 1 day, segment: 1 hour}",
        "events": "{description: e, retention: 14 days, segment: 1 day}",
        "dlq": "{description: d, retention: 7 days, segment: 1 hour}",
        "alerts": "{description: a, retention: 30 days, segment: 1 day}",
        "router_in": "{description: i, retention: 7 days, segment: 1 day}",
        "silences": "{description: s, cleanup: compact}",
        "router_state": "{description: s, cleanup: compact}",
    }
    roles.update(overrides)
    return "version: 1\ntopics:\n" + "".join(f"  {k}: {v}\n" for k, v in roles.items())


def test_a_valid_minimal_table(tmp_path: Path) -> None:
    assert topics.load_table(_write(tmp_path, _table())).topics.raw.retention == DAY


@pytest.mark.parametrize(
    ("override", "line", "says"),
    [
        ({"dlq": "{description: d, retention: 7 days}"}, 5, "segment"),  # no bound
        ({"silences": "{description: s, cleanup: compact, retention: 1 day}"}, 8, "compacted"),
        ({"raw": "{description: r, retention: 1 fortnight, segment: 1 hour}"}, 3, "duration"),
        ({"alerts": "{description: a, retention: 30 days, segment: 1 day, extra: 1}"}, 6, "extra"),
    ],
)
def test_errors_name_the_line(
    tmp_path: Path, override: dict[str, str], line: int, says: str
) -> None:
    with pytest.raises(RuleError) as err:
        topics.load_table(_write(tmp_path, _table(**override)))
    assert err.value.line == line
    assert says in str(err.value).lower()


def test_a_missing_role_and_a_duplicate_key_are_refused(tmp_path: Path) -> None:
    text = _table()
    missing = "\n".join(line for line in text.splitlines() if "router_in" not in line)
    with pytest.raises(RuleError, match="router_in"):
        topics.load_table(_write(tmp_path, missing))
    with pytest.raises(RuleError, match="duplicate key"):
        topics.load_table(_write(tmp_path, text + "  raw: {description: r}\n"))


def test_spec_for_takes_the_tables_policy_and_falls_back_without_a_table(tmp_path: Path) -> None:
    settings = Settings(rules_dir=ROOT / "rules")
    raw = topics.spec_for(settings, "audit.raw.some-service")
    assert raw.config["retention.ms"] == str(3 * DAY)
    assert topics.spec_for(settings, settings.topics.dlq).config["retention.ms"] == str(7 * DAY)
    assert topics.spec_for(settings, "audit.raw.x", partitions=1).partitions == 1
    assert topics.spec_for(settings, "not-ours").config == {}  # the table does not manage it
    bare = topics.spec_for(Settings(rules_dir=tmp_path), "audit.raw.some-service")
    assert bare.config == {}
    assert bare.partitions == settings.topics.partitions
