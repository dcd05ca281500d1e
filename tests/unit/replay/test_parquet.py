"""--format parquet: the nested schema kept, every event, readable back as it was."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.importer import import_jsonl
from pipeline.events.jsonform import format_ts
from pipeline.produce.generator import EventGenerator
from pipeline.replay import parquet
from pipeline.replay.archive_source import replay_archive
from pipeline.replay.filters import compile_filters
from pipeline.replay.window import Window
from tests.unit.replay.conftest import GOLDEN

T0 = datetime(2026, 11, 4, tzinfo=UTC)


def test_an_archive_window_as_parquet(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(parquet, "ROW_GROUP", 100)  # several row groups
    gen = itertools.islice(EventGenerator(seed=9).events(), 349)
    docs = [GOLDEN] + [{**d, "ts": format_ts(T0 + timedelta(seconds=i))} for i, d in enumerate(gen)]
    docs[0] = {**GOLDEN, "ts": format_ts(T0)}
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    signer = Signer.generate()
    store = FileStore(tmp_path / "a", fsync=False)
    import_jsonl(src, store, signer, batch_size=100)
    out = tmp_path / "w.parquet"
    stats = replay_archive(
        store,
        Keyring([signer.public_key()]),
        "import",
        Window(T0, T0 + timedelta(hours=1)),
        compile_filters([]),
        parquet.ParquetSink(out),
    )
    assert stats.matched == 350
    table = pq.read_table(out)
    assert table.num_rows == 350
    assert pq.ParquetFile(out).num_row_groups == 4
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_struct(table.schema.field("actor").type)
    assert pa.types.is_map(table.schema.field("details").type)
    rows = table.to_pylist()
    assert [r["event_id"] for r in rows] == [d["event_id"] for d in docs]
    first = rows[0]
    assert first["actor"]["id"] == GOLDEN["actor"]["id"]
    assert first["actor"]["roles"] == GOLDEN["actor"]["roles"]
    assert first["http"]["status"] == 200
    assert dict(first["details"]) == GOLDEN["details"]
    assert first["pipeline"]["scrub"][0]["field"] == "actor.ip"
    assert first["ts"] == T0
    assert first["_unverified"] is None
    assert sum(1 for r in rows if r["http"] is None) == sum(1 for d in docs if "http" not in d)
