"""The event commands end to end: schemas register/check, produce, consume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, schemas_dir
from pipeline.produce.scrubbing import AppScrub
from pipeline.scrub import load_policy
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", *args],
        capture_output=True,
        input=stdin,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
        cwd=ROOT,
    )


def _schema_dir(tmp_path: Path, namespace: str, change: Callable[[dict], None] | None) -> Path:
    d = tmp_path / "schemas"
    d.mkdir(parents=True, exist_ok=True)
    doc = json.loads((schemas_dir() / "audit_event.avsc").read_text())
    doc["namespace"] = namespace
    if change is not None:
        change(doc)
    (d / "audit_event.avsc").write_text(json.dumps(doc))
    return d


def test_schemas_register_then_refuse_an_incompatible_change(
    stack: Settings, tmp_path: Path
) -> None:
    ns = f"test.ns{uuid.uuid4().hex[:10]}"
    v1 = _schema_dir(tmp_path / "v1", ns, None)
    first = _cli("schemas", "register", "--dir", str(v1))
    assert first.returncode == 0, first.stdout + first.stderr
    again = _cli("schemas", "register", "--dir", str(v1))
    assert again.returncode == 0
    assert b"unchanged" in again.stdout

    def add_optional(doc: dict) -> None:
        doc["fields"].append({"name": "tenant", "type": ["null", "string"], "default": None})

    def add_required(doc: dict) -> None:
        doc["fields"].append({"name": "tenant_id", "type": "string"})

    good = _schema_dir(tmp_path / "v2", ns, add_optional)
    assert _cli("schemas", "check", "--dir", str(good)).returncode == 0
    bad = _schema_dir(tmp_path / "v3", ns, add_required)
    checked = _cli("schemas", "check", "--dir", str(bad))
    assert checked.returncode == 1
    assert b"not BACKWARD compatible" in checked.stdout
    refused = _cli("schemas", "register", "--dir", str(bad))
    assert refused.returncode == 1
    assert b"REFUSED" in refused.stdout
    assert _cli("schemas", "register", "--dir", str(good)).returncode == 0


def test_produce_generated_events_and_consume_them(
    stack: Settings, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("audit.raw.cli")
    produced = _cli("produce", "--topic", topic, "--count", "500", "--seed", "7")
    assert produced.returncode == 0, produced.stderr
    assert b"produced 500 events" in produced.stderr
    assert b"delivery failures 0" in produced.stderr
    consumed = _cli(
        "consume", "--topic", topic, "--max", "500", "--idle-timeout", "10", "--reason", "test"
    )  # a raw topic: the read is audited with its reason (issue 12)
    assert consumed.returncode == 0, consumed.stderr
    events = [orjson.loads(line) for line in consumed.stdout.splitlines()]
    assert len(events) == 500
    assert len({e["event_id"] for e in events}) == 500
    assert {e["category"] for e in events} >= {"AUTHN", "AUTHZ", "DATA_ACCESS"}
    # flows share request and trace ids across services
    by_request: dict[str, set[str]] = {}
    for e in events:
        by_request.setdefault(e["request_id"], set()).add(e["service"])
    assert any(len(services) > 1 for services in by_request.values())


def test_produce_from_file_round_trips_through_consume(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.cli", partitions=1)
    golden = orjson.loads((ROOT / "tests" / "golden" / "audit_event.json").read_bytes())
    lines = []
    for i in range(5):
        lines.append({**golden, "event_id": f"file-{i}"})
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in lines))
    produced = _cli("produce", "--topic", topic, "--from-file", str(path))
    assert produced.returncode == 0, produced.stderr
    consumed = _cli(
        "consume", "--topic", topic, "--max", "5", "--idle-timeout", "10", "--reason", "test"
    )
    got = [orjson.loads(line) for line in consumed.stdout.splitlines()]
    # the same JSON form, in order (one partition, one key), as the SDK scrubbed it before
    # sending (pipeline/produce/scrubbing.py: the IP truncated, no pipeline block)
    scrub = AppScrub(load_policy(), None)
    schema = parsed_schema(AUDIT_EVENT)
    assert got == [jsonform.to_json(schema, scrub(jsonform.from_json(schema, d))) for d in lines]
    assert got[0]["actor"]["ip"] == "203.0.113.0"


def test_produce_from_file_reports_invalid_lines(
    stack: Settings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("audit.raw.cli", partitions=1)
    golden = orjson.loads((ROOT / "tests" / "golden" / "audit_event.json").read_bytes())
    bad = {k: v for k, v in golden.items() if k != "category"}
    path = tmp_path / "events.jsonl"
    path.write_bytes(orjson.dumps(golden) + b"\n" + orjson.dumps(bad) + b"\n")
    produced = _cli("produce", "--topic", topic, "--from-file", str(path))
    assert produced.returncode == 1
    assert b"line 2:" in produced.stderr
    assert b"category: is required" in produced.stderr
    assert b"produced 1 events" in produced.stderr
