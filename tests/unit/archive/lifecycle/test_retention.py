"""Retention classes: the shipped file, fail-closed loading with lines, the per-batch maximum."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.archive.format.body import micros_to_datetime
from pipeline.archive.format.chain import resign
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.manifest import Manifest
from pipeline.archive.format.store import FileStore
from pipeline.archive.lifecycle.retention import (
    Period,
    Retention,
    add_months,
    category_index,
    load_retention,
)
from pipeline.archive.write.batcher import batch_of
from pipeline.archive.write.importer import Encoder
from pipeline.archive.write.writer import ArchiveWriter, Clock
from pipeline.errors import DeserializationError, RuleError
from pipeline.events.jsonform import format_ts
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from tests.unit.archive.conftest import FakeClock

SHIPPED = Path(__file__).parents[4] / "rules" / "retention.yaml"
T0 = datetime(2026, 1, 31, 10, 0, 0, 500, tzinfo=UTC)

POLICY = """\
version: 1
classes:
  long: {period: 24 months}
  short: {period: 30 days}
categories:
  AUTHN: long
  SYSTEM: short
default: long
metadata: long
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "retention.yaml"
    path.write_text(text)
    return path


def _encode(docs: list[dict[str, Any]], category: str, n: int) -> list[bytes]:
    enc = Encoder()
    return [enc.encode(orjson.dumps({**d, "category": category})) for d in docs[:n]]


def test_shipped_policy_maps_every_category() -> None:
    r = load_retention(SHIPPED)
    assert r.symbols == (
        "AUTHN",
        "AUTHZ",
        "DATA_ACCESS",
        "ADMIN",
        "LIFECYCLE",
        "INTEGRATION",
        "SYSTEM",
    )
    assert r.class_of("AUTHN") == "security"
    assert r.class_of("SYSTEM") == "verbose"
    assert r.until("security", T0) > r.until("integration", T0) > r.until("verbose", T0)
    assert r.longest(r.by_index, T0) == r.metadata_class == "security"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (POLICY.replace("default: long", "default: long\nextra: 1"), 9, "extra"),
        (POLICY.replace("SYSTEM: short", "SYSTEMS: short"), 7, "unknown category 'SYSTEMS'"),
        (POLICY.replace("AUTHN: long", "AUTHN: forever"), 6, "unknown class 'forever'"),
        (POLICY.replace("30 days", "30 fortnights"), 4, "not a period"),
        (POLICY.replace("30 days", "0 days"), 4, "at least 1"),
        (POLICY.replace("metadata: long", "metadata: [long"), 10, "invalid YAML"),
    ],
)
def test_invalid_policy_fails_closed_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RuleError, match=message) as exc:
        load_retention(path)
    assert exc.value.file == str(path)
    assert exc.value.line == line


def test_periods_use_calendar_months_and_round_up_to_seconds(tmp_path: Path) -> None:
    assert add_months(T0, 1) == T0.replace(month=2, day=28)  # clamped to February's end
    assert add_months(T0, 24).year == 2028
    assert str(Period.parse("1 day")) == "1 day"
    assert Period.parse("5 seconds").after(T0) == T0.replace(second=5)
    r = load_retention(_write(tmp_path, POLICY))
    # S3 keeps whole seconds: the lock must never end before the period does
    until = r.until("short", T0)
    assert until.microsecond == 0
    assert until > T0.replace(day=1, month=3)


def test_category_is_read_without_decoding(docs: list[dict[str, Any]]) -> None:
    enc = Encoder()
    for d in docs[:50]:
        body = enc.encode(orjson.dumps(d))
        assert load_retention(SHIPPED).symbols[category_index(body)] == d["category"]


SYMBOLS = load_retention(SHIPPED).symbols


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    service=st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=120),
    environment=st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=90),
    category=st.sampled_from(SYMBOLS),
    micros=st.integers(min_value=0, max_value=253_402_300_799_999_999),  # 1970 .. 9999
)
def test_category_index_agrees_with_the_decoder(
    docs: list[dict[str, Any]], service: str, environment: str, category: str, micros: int
) -> None:
    """Short and long strings (fast and general path), timestamps of every varint width."""
    ts = format_ts(micros_to_datetime(micros))
    doc = {**docs[0], "service": service, "environment": environment, "category": category}
    body = Encoder().encode(orjson.dumps({**doc, "ts": ts}))
    assert SYMBOLS[category_index(body)] == category


@pytest.mark.parametrize("cut", [0, 1, 5, 20, 40, 49])  # 49: all but the category
def test_a_truncated_body_is_an_error_not_a_guess(docs: list[dict[str, Any]], cut: int) -> None:
    body = Encoder().encode(orjson.dumps({**docs[0], "service": "s", "environment": "e"}))
    with pytest.raises(DeserializationError):
        category_index(body[:cut])


def test_batch_takes_the_longest_class_of_its_events(
    tmp_path: Path, docs: list[dict[str, Any]]
) -> None:
    r = load_retention(_write(tmp_path, POLICY))
    system = _encode(docs, "SYSTEM", 10)
    authn = _encode(docs, "AUTHN", 1)
    integration = _encode(docs, "INTEGRATION", 1)  # unlisted: the default class
    assert r.classify(system, T0) == "short"
    assert r.classify(system + authn, T0) == "long"  # one login keeps the batch 24 months
    assert r.classify(system + integration, T0) == "long"


class RecordingStore(FileStore):
    """A file store remembering the retain-until each key was written with."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, fsync=False)
        object.__setattr__(self, "locks", {})

    def put_if_absent(
        self, key: str, data: bytes, checksum: str, *, retain_until: datetime | None = None
    ) -> bool:
        self.locks[key] = retain_until  # type: ignore[attr-defined]
        return super().put_if_absent(key, data, checksum, retain_until=retain_until)


def _writer(store: FileStore, r: Retention, clock: Clock) -> ArchiveWriter:
    return ArchiveWriter.open(
        store,
        Signer.generate(),
        "audit.events",
        raw_schema(AUDIT_EVENT),
        schema_text(AUDIT_EVENT),
        clock=clock,
        retention=r,
    )


def test_writer_locks_batch_manifest_and_signature_and_records_the_class(
    tmp_path: Path, docs: list[dict[str, Any]]
) -> None:
    r = load_retention(_write(tmp_path, POLICY))
    store = RecordingStore(tmp_path / "archive")
    w = _writer(store, r, FakeClock())
    m = w.write_batch(batch_of("audit.events", 0, 0, _encode(docs, "SYSTEM", 5)))
    m2 = w.write_batch(
        batch_of("audit.events", 0, 5, _encode(docs, "SYSTEM", 5) + _encode(docs, "AUTHN", 1))
    )
    w.checkpoint()
    assert (m.retention_class, m2.retention_class) == ("short", "long")
    locks: dict[str, datetime | None] = store.locks  # type: ignore[attr-defined]
    for manifest in (m, m2):
        until = datetime.fromisoformat(manifest.retain_until or "")
        created = datetime.fromisoformat(manifest.created)
        assert until == r.until(manifest.retention_class or "", created)
        key = manifest.object_key
        assert locks[key] == locks[key + ".manifest.json"] == locks[key + ".manifest.sig"] == until
        stored = Manifest.model_validate_json(store.get(key + ".manifest.json"))
        assert stored.retain_until == manifest.retain_until
    checkpoint_locks = [v for k, v in locks.items() if k.startswith("checkpoints/")]
    assert len(checkpoint_locks) == 2
    assert all(v is not None for v in checkpoint_locks)


def test_a_signature_completed_after_a_crash_is_locked_like_its_manifest(
    tmp_path: Path, docs: list[dict[str, Any]]
) -> None:
    r = load_retention(_write(tmp_path, POLICY.replace("30 days", "3 days")))
    store = RecordingStore(tmp_path / "archive")
    now = datetime.now(UTC)
    w = _writer(store, r, lambda: now)
    m = w.write_batch(batch_of("audit.events", 0, 0, _encode(docs, "SYSTEM", 5)))
    sig_key = m.object_key + ".manifest.sig"
    (tmp_path / "archive" / sig_key).unlink()  # the crash: manifest stored, signature not
    del store.locks[sig_key]  # type: ignore[attr-defined]
    data = store.get(m.object_key + ".manifest.json")
    resign(store, w.signer, m.object_key + ".manifest.json", sig_key, data)
    assert store.locks[sig_key] == r.until("short", now)  # type: ignore[attr-defined]


def test_a_class_removed_from_the_policy_counts_as_the_longest(tmp_path: Path) -> None:
    r = load_retention(_write(tmp_path, POLICY))
    assert r.until_now("short", T0) == r.until("short", T0)
    assert r.until_now("gone", T0) == r.until_now(None, T0) == r.until("long", T0)
