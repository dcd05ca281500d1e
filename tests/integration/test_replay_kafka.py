"""`replay kafka` on the real broker: a window holds exactly the events produced in it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from pipeline.events.jsonform import format_ts
from pipeline.replay.filters import compile_filters
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import ListSink, Stats
from pipeline.replay.window import Window
from pipeline.settings import Settings
from tests.integration.replay_events import generated, produce_now

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _ids(docs: list[dict]) -> list[str]:
    return sorted(d["event_id"] for d in docs)


def test_window_holds_exactly_the_events_produced_in_it(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.replay", partitions=3)
    before = produce_now(stack, topic, generated(300, seed=1), tmp_path / "spool")
    t1 = datetime.now(UTC)
    inside = produce_now(stack, topic, generated(600, seed=2), tmp_path / "spool")
    t2 = datetime.now(UTC)
    after = produce_now(stack, topic, generated(300, seed=3), tmp_path / "spool")
    assert all(format_ts(t1) <= d["ts"] < format_ts(t2) for d in inside)

    def run(window: Window, *filters: str) -> tuple[list[dict], Stats]:
        sink = ListSink()
        seen: list[Stats] = []
        stats = replay_kafka(
            stack, topic, window, compile_filters(filters), sink, progress=seen.append
        )
        assert seen
        assert seen[-1] is stats
        return sink.events, stats

    got, stats = run(Window(t1, t2))
    assert len(got) == len(inside) == stats.matched
    assert _ids(got) == _ids(inside)
    assert stats.scanned == stats.total == 1200  # skew: the whole topic was produced just now
    assert got[0] == next(d for d in inside if d["event_id"] == got[0]["event_id"])

    got, _ = run(Window(t1, None))
    assert _ids(got) == _ids(inside + after)

    got, _ = run(Window(t1, t2), "category IN (AUTHN, AUTHZ) OR outcome!=SUCCESS")
    want = [d for d in inside if d["category"] in ("AUTHN", "AUTHZ") or d["outcome"] != "SUCCESS"]
    assert 0 < len(got) < len(inside)
    assert _ids(got) == _ids(want)

    got, _ = run(Window(t1, t2), "category=DATA_ACCESS", "http.status>=200")
    want = [
        d
        for d in inside
        if d["category"] == "DATA_ACCESS" and (d.get("http") or {}).get("status", -1) >= 200
    ]
    assert _ids(got) == _ids(want)

    # events within each partition come out in offset order: ts never goes backwards per key
    got, _ = run(Window(t1, t2))
    by_actor: dict[str, list[str]] = {}
    for d in got:
        by_actor.setdefault(d["actor"]["id"], []).append(d["ts"])
    assert all(ts == sorted(ts) for ts in by_actor.values())
    assert before  # produced, and outside every window above


def test_cli_replays_to_a_file_with_a_summary(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.replay", partitions=2)
    t0 = datetime.now(UTC)
    sent = produce_now(stack, topic, generated(200, seed=4), tmp_path / "spool")
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli.main",
            "replay",
            "kafka",
            "--topic",
            topic,
            "--from",
            format_ts(t0),
            "--filter",
            "outcome=SUCCESS",
            "--out",
            str(out),
            "--reason",
            "test",
        ],
        capture_output=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    got = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    want = [d for d in sent if d["outcome"] == "SUCCESS"]
    assert _ids(got) == _ids(want)
    assert f"matched {len(want):,} of 200 events scanned".encode() in done.stderr

    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli.main",
            "replay",
            "kafka",
            "--topic",
            topic,
            "--from",
            "-1h",
            "--filter",
            "outcome==",
        ],
        capture_output=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert b"character" in bad.stderr
