from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, RuleError
from pipeline.route.config import (
    KafkaReceiver,
    WebhookReceiver,
    load_routing,
    parse_duration,
    resolve_secret,
)
from pipeline.route.tree import compile_tree

from .helpers import BASIC, routing

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_routing_file_loads() -> None:
    config = load_routing(ROOT / "rules" / "routing.yaml")
    tree = compile_tree(config.route)
    names = {r.name for r in config.receivers}
    assert {"security-feed", "security-pager", "billing-webhook"} <= names
    pager = next(c for c in tree.children if c.id == "page-critical")
    assert pager.receiver == "security-pager"
    assert pager.group_wait_us == 10_000_000
    assert pager.group_interval_us == 300_000_000  # inherited from the root
    feed = config.receiver("security-feed")
    assert isinstance(feed, KafkaReceiver)
    assert feed.topic_name == "audit.notify.security-feed"
    hook = config.receiver("billing-webhook")
    assert isinstance(hook, WebhookReceiver)
    assert hook.timeout == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "m5", "5x", "1.5h", "5m 3s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


BAD_CASES = [
    # (text, line, words in the message)
    (BASIC.replace("group_wait: 30s", "group_wait: soon"), 5, "route.group_wait"),
    (BASIC.replace("receiver: feed\n", "receiver: nobody\n", 1), 3, "unknown receiver 'nobody'"),
    (BASIC + "  - {name: feed, type: kafka}\n", 10, "defined twice"),
    (
        BASIC.replace("  repeat_interval: 4h\n", "  repeat_interval: 4h\n  colour: red\n"),
        8,
        "colour",
    ),
    (BASIC.replace("group_by: [rule_id]", "group_by: [actor]"), 4, "unknown alert label 'actor'"),
    (
        BASIC.replace(
            "  repeat_interval: 4h\n",
            "  repeat_interval: 4h\n  routes:\n    - receiver: feed\n"
            "      matchers: ['severity=~\"(HIGH\"']\n",
        ),
        10,
        "invalid regex",
    ),
    (
        BASIC.replace(
            "  repeat_interval: 4h\n",
            "  repeat_interval: 4h\n  routes:\n    - receiver: feed\n"
            "      routes:\n        - receiver: pager\n",
        ),
        11,
        "route.routes.0.routes.0.receiver: unknown receiver 'pager'",
    ),
    (
        BASIC.replace(
            "  repeat_interval: 4h\n",
            "  repeat_interval: 4h\n  routes:\n    - matchers: ['severity HIGH']\n",
        ),
        9,
        "not a matcher",
    ),
    (
        BASIC + "  - name: hook\n    type: webhook\n    url: https://x.test/h\n"
        "    secret_env: lower-case\n",
        13,
        "receivers.1.secret_env",
    ),
    (BASIC + "  - name: x\n    type: email\n", 10, "receivers.1"),
    (BASIC.replace("type: kafka", "type: kafka, url: https://x"), 9, "receivers.0.url"),
    ("route: [\n", 2, "invalid YAML"),
    ("- a\n", 1, "one YAML mapping"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_CASES)
def test_errors_carry_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(RuleError) as info:
        routing(tmp_path, text)
    assert info.value.file == str(tmp_path / "routing.yaml")
    assert message in str(info.value)
    assert info.value.line == line, str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not found"):
        load_routing(tmp_path / "nope.yaml")


def test_resolve_secret_reads_the_mapping_it_is_given() -> None:
    assert resolve_secret("HOOK_SECRET", {"HOOK_SECRET": "s3cr3t"}).get_secret_value() == "s3cr3t"
    with pytest.raises(ConfigError, match="HOOK_SECRET") as info:
        resolve_secret("HOOK_SECRET", {})
    assert "s3cr3t" not in str(info.value)
