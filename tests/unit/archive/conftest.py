"""Shared fixtures: generated events as JSON Lines, and a signed file:// archive built from them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.importer import import_jsonl
from pipeline.produce.generator import EventGenerator

EVENTS = 300
BATCH = 50  # -> 6 batches
CHECKPOINT_EVERY = 2  # -> 3 checkpoints


def generated(n: int, seed: int = 7) -> list[dict[str, Any]]:
    return list(itertools.islice(EventGenerator(seed=seed).events(), n))


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


class FakeClock:
    """Advances one second per call, so checkpoints and manifests get distinct times."""

    def __init__(self, start: datetime = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Archive:
    root: Path
    store: FileStore
    signer: Signer
    docs: list[dict[str, Any]]

    @property
    def url(self) -> str:
        return self.root.as_uri()

    @property
    def keyring(self) -> Keyring:
        return Keyring([self.signer.public_key()])

    def keys(self, suffix: str, prefix: str = "events/") -> list[str]:
        return [k for k in self.store.list(prefix) if k.endswith(suffix)]

    def path(self, key: str) -> Path:
        return self.root / key


@pytest.fixture(scope="session")
def docs() -> list[dict[str, Any]]:
    return generated(EVENTS)


@pytest.fixture(scope="session")
def events_file(tmp_path_factory: pytest.TempPathFactory, docs: list[dict[str, Any]]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("events") / "events.jsonl", docs)


def build_archive(root: Path, events_file: Path, docs: list[dict[str, Any]]) -> Archive:
    store = FileStore(root, fsync=False)
    signer = Signer.generate()
    import_jsonl(
        events_file,
        store,
        signer,
        batch_size=BATCH,
        checkpoint_every=CHECKPOINT_EVERY,
        clock=FakeClock(),
    )
    return Archive(root, store, signer, docs)


@pytest.fixture
def archive(tmp_path: Path, events_file: Path, docs: list[dict[str, Any]]) -> Archive:
    return build_archive(tmp_path / "archive", events_file, docs)


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, events_file: Path, docs: list[dict[str, Any]]
) -> Archive:
    """A read-only archive for tests that copy it."""
    return build_archive(tmp_path_factory.mktemp("template") / "archive", events_file, docs)
