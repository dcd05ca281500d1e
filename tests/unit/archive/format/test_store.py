"""FileStore: write-once semantics, listing, URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.archive.format.store import (
    FileStore,
    ObjectConflictError,
    ObjectNotFoundError,
    open_store,
    sha256_hex,
)
from pipeline.errors import ConfigError


def put(store: FileStore, key: str, data: bytes) -> bool:
    return store.put_if_absent(key, data, sha256_hex(data))


def test_put_if_absent_never_overwrites(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    assert put(store, "a/b/c.avro", b"one") is True
    assert put(store, "a/b/c.avro", b"one") is False  # retry after a crash: no-op
    with pytest.raises(ObjectConflictError, match=r"a/b/c\.avro"):
        put(store, "a/b/c.avro", b"two")
    assert store.get("a/b/c.avro") == b"one"
    assert store.exists("a/b/c.avro")
    assert not store.exists("a/b/d.avro")
    with pytest.raises(ObjectNotFoundError):
        store.get("a/b/d.avro")
    with pytest.raises(ValueError, match="checksum"):
        store.put_if_absent("x", b"data", sha256_hex(b"other"))
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["c.avro"]  # no temp files


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a/./b", "a\\b", "a/.tmp-x"])
def test_invalid_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        put(FileStore(tmp_path), key, b"x")


def test_list_is_sorted_and_by_string_prefix(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for key in ["e/t/p=1/b", "e/t/p=1/a", "e/t/p=10/a", "e/u/x", "f/y"]:
        put(store, key, b"x")
    assert list(store.list("e/t/p=1")) == ["e/t/p=1/a", "e/t/p=1/b", "e/t/p=10/a"]
    assert list(store.list("e/t/p=1/")) == ["e/t/p=1/a", "e/t/p=1/b"]
    assert list(store.list("e/")) == ["e/t/p=1/a", "e/t/p=1/b", "e/t/p=10/a", "e/u/x"]
    assert list(store.list("")) == [*store.list("e/"), "f/y"]
    assert list(store.list("nothing/")) == []


def test_open_store(tmp_path: Path) -> None:
    assert open_store(tmp_path.as_uri()).root == tmp_path
    with pytest.raises(ConfigError, match="file:///DIR"):
        open_store("s3://bucket/x")
    with pytest.raises(ConfigError, match="three slashes"):
        open_store("file://relative/dir")
