"""The offline import: layout, offsets, invalid input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.archive.format.keys import Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.importer import import_jsonl
from pipeline.errors import InvalidEventError
from tests.unit.archive.conftest import Archive, write_jsonl


def test_layout_of_an_import(archive: Archive) -> None:
    keys = list(archive.store.list(""))
    assert len(keys) == 6 * 3 + 3 * 2 + 3  # batches, checkpoints, one intent per flush
    # one intent per flush (2 batches of 50 each): named by partition, first offset and content
    intents = archive.keys(".json", "intents/")
    assert [k.rsplit("-", 1)[0] for k in intents] == [
        f"intents/import/p=0/{first:020d}" for first in (0, 100, 200)
    ]
    assert archive.keys(".avro")[0] == (
        "events/import/dt=2026-11-01/p=0/00000000000000000000-00000000000000000049.avro"
    )
    assert archive.keys(".json", "checkpoints/") == [
        f"checkpoints/import/dt=2026-11-02/{i:020d}.json" for i in range(3)
    ]


def test_invalid_line_names_its_number(tmp_path: Path, docs: list[dict[str, Any]]) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", docs[:5])
    bad = {**docs[5], "category": "NOPE"}
    with path.open("ab") as fh:
        fh.write(b"\n" + orjson.dumps(bad) + b"\n")
    store = FileStore(tmp_path / "a", fsync=False)
    with pytest.raises(InvalidEventError, match=r"e\.jsonl:7: category: must be one of"):
        import_jsonl(path, store, Signer.generate(), batch_size=100)
    assert list(store.list("events/")) == []


def test_empty_file_still_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    store = FileStore(tmp_path / "a", fsync=False)
    result = import_jsonl(path, store, Signer.generate())
    assert (result.events, result.batches, result.checkpoints) == (0, 0, 1)
