"""`replay kafka --to-topic`: records copied as they were (key, value, headers), an interrupted
copy resumed without duplicates, pipeline inputs refused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.events.jsonform import format_ts
from pipeline.replay.filters import compile_filters
from pipeline.replay.kafka_source import replay_kafka
from pipeline.replay.output import Origin
from pipeline.replay.to_topic import ORIGIN_HEADER, TopicSink, resume_points
from pipeline.replay.window import Window
from pipeline.settings import Settings
from tests.integration.replay_events import generated, produce_now

pytestmark = pytest.mark.integration


class Capture:
    def __init__(self) -> None:
        self.got: list[tuple[dict[str, Any], Origin]] = []

    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        assert origin is not None
        self.got.append((doc, origin))

    def close(self) -> None:
        pass


class Interrupted(TopicSink):
    """A copy killed after ``limit`` records (what it handed over is flushed, as on Ctrl-C)."""

    limit = 250

    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        if self.written >= self.limit:
            raise KeyboardInterrupt
        super().write(doc, origin)


def test_copy_resumes_without_duplicates(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    source = topic_factory("audit.replay", partitions=3)
    target = topic_factory("audit.replay.copy", partitions=3)
    t0 = datetime.now(UTC)
    sent = produce_now(stack, source, generated(900, seed=51), tmp_path / "spool")
    flt = "outcome IN (SUCCESS, FAILURE)"
    want = {d["event_id"] for d in sent if d["outcome"] in ("SUCCESS", "FAILURE")}

    with pytest.raises(KeyboardInterrupt):
        replay_kafka(
            stack, source, Window(t0, None), compile_filters([flt]), Interrupted(stack, target)
        )
    assert resume_points(stack, source, target)  # some partitions begun

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli.main",
            "replay",
            "kafka",
            "--topic",
            source,
            "--from",
            format_ts(t0),
            "--filter",
            flt,
            "--to-topic",
            target,
        ],
        capture_output=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert b"resuming the copy" in done.stderr

    copied, originals = Capture(), Capture()
    replay_kafka(stack, target, Window(t0, None), compile_filters([]), copied)
    replay_kafka(stack, source, Window(t0, None), compile_filters([]), originals)
    ids = Counter(doc["event_id"] for doc, _ in copied.got)
    assert set(ids) == want
    assert max(ids.values()) == 1  # nothing twice
    by_id = {doc["event_id"]: o for doc, o in originals.got}
    for _doc, o in copied.got:
        src = by_id[_doc["event_id"]]
        assert (o.key, o.value, o.partition) == (src.key, src.value, src.partition)
        origin = dict(o.headers or [])[ORIGIN_HEADER]
        assert origin == f"{source}:{src.partition}:{src.offset}".encode()
    for p in range(3):  # per partition in source order
        offsets = [by_id[d["event_id"]].offset for d, o in copied.got if o.partition == p]
        assert offsets == sorted(offsets)


def test_a_pipeline_input_is_refused(stack: Settings, topic_factory: Callable[..., str]) -> None:
    source = topic_factory("audit.replay", partitions=1)
    for target in ("audit.events", "audit.raw.billing"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline.cli.main",
                "replay",
                "kafka",
                "--topic",
                source,
                "--from",
                "-1h",
                "--to-topic",
                target,
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert b"pipeline input" in done.stderr
