"""`replay archive` on a file:// archive built by the offline importer: selection by the
manifests' times, verification before emitting, refusal of a failing batch, the fallback."""

from __future__ import annotations

import itertools
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.archive.format import layout
from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.manifest import Manifest
from pipeline.archive.format.store import FileStore, Store
from pipeline.archive.write.importer import import_jsonl
from pipeline.events.jsonform import format_ts, parse_ts
from pipeline.produce.generator import EventGenerator
from pipeline.replay.archive_source import UNVERIFIED, replay_archive
from pipeline.replay.filters import compile_filters
from pipeline.replay.output import ListSink, Stats
from pipeline.replay.window import Window

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
EVENTS = 2400  # one every 36 s: 24 hours
BATCH = 100  # -> 24 batches of about an hour each


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.signer = Signer.generate()
        self.keyring = Keyring([self.signer.public_key()])
        gen = EventGenerator(seed=11).events()
        self.docs: list[dict[str, Any]] = [
            {**d, "ts": format_ts(T0 + timedelta(seconds=36 * i))}
            for i, d in enumerate(itertools.islice(gen, EVENTS))
        ]
        src = root.parent / f"{root.name}.jsonl"
        src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in self.docs))
        self.store = FileStore(root, fsync=False)
        import_jsonl(src, self.store, self.signer, batch_size=BATCH, checkpoint_every=5)

    def manifests(self) -> list[Manifest]:
        return [
            Manifest.model_validate_json(self.store.get(k))
            for k in self.store.list(layout.EVENTS)
            if k.endswith(layout.MANIFEST_SUFFIX)
        ]

    def between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return [d for d in self.docs if start <= parse_ts(d["ts"], "ts") < end]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return Archive(tmp_path_factory.mktemp("replay") / "archive")


@pytest.fixture
def copy(archive: Archive, tmp_path: Path) -> Archive:
    """A copy of the archive the test may damage."""
    clone = Archive.__new__(Archive)
    clone.__dict__.update(archive.__dict__)
    clone.root = tmp_path / "copy"
    shutil.copytree(archive.root, clone.root)
    clone.store = FileStore(clone.root, fsync=False)
    return clone


def run(
    a: Archive, start: datetime, end: datetime, *filters: str, store: Store | None = None, **kw: Any
) -> tuple[list[dict[str, Any]], Stats]:
    sink = ListSink()
    stats = replay_archive(
        store or a.store,
        a.keyring,
        "import",
        Window(start, end),
        compile_filters(filters),
        sink,
        **kw,
    )
    return sink.events, stats


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["event_id"] for d in docs]


def test_a_window_fetches_only_the_batches_overlapping_it(archive: Archive) -> None:
    start, end = T0 + timedelta(hours=10, minutes=15), T0 + timedelta(hours=11, minutes=5)
    got, stats = run(archive, start, end)
    assert ids(got) == ids(archive.between(start, end))  # in offset order
    assert got[0] == archive.between(start, end)[0]
    overlapping = [
        m
        for m in archive.manifests()
        if parse_ts(m.max_ts, "") >= start and parse_ts(m.min_ts, "") < end
    ]
    assert len(overlapping) == 2
    assert stats.batches == 2
    assert stats.manifests == 24  # every manifest of the day (and the empty day before) is read
    assert stats.scanned == sum(m.count for m in overlapping)
    assert stats.total == stats.scanned
    assert not stats.refused


def test_filters_and_the_edges_of_the_archive(archive: Archive) -> None:
    start, end = T0 - timedelta(hours=1), T0 + timedelta(hours=30)
    got, stats = run(archive, start, end, "category=AUTHN")
    assert ids(got) == [d["event_id"] for d in archive.docs if d["category"] == "AUTHN"]
    assert stats.batches == 24
    assert not stats.refused  # first batch: genesis; last: named by the latest checkpoint
    got, stats = run(archive, T0 + timedelta(days=2), T0 + timedelta(days=3))
    assert got == []
    assert stats.batches == 0


def _tamper(a: Archive, index: int) -> str:
    """Flip one byte of the index-th batch object; returns its key."""
    okey = sorted(k for k in a.store.list(layout.EVENTS) if k.endswith(layout.BATCH_SUFFIX))[index]
    path = a.root / okey
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    return okey


def test_a_tampered_batch_in_the_window_is_refused_and_named(copy: Archive) -> None:
    okey = _tamper(copy, 5)  # hours 5..6
    start, end = T0 + timedelta(hours=4, minutes=30), T0 + timedelta(hours=7)
    got, stats = run(copy, start, end)
    assert len(stats.refused) == 1
    assert okey in stats.refused[0]
    assert "object-hash" in stats.refused[0]
    emitted = set(ids(got))
    assert emitted
    assert not emitted & {d["event_id"] for d in copy.docs[500:600]}

    got, stats = run(copy, start, end, allow_unverified=True)
    if stats.refused:  # the flipped byte broke the container itself: nothing to emit
        assert okey in stats.refused[0]
    else:
        assert okey in stats.unverified[0]
        assert {d[UNVERIFIED] for d in got if UNVERIFIED in d} == {okey}

    # outside the window, the damage is not even fetched
    _got, stats = run(copy, T0 + timedelta(hours=12), T0 + timedelta(hours=13))
    assert not stats.refused


def test_the_other_region_supplies_a_damaged_batch(archive: Archive, copy: Archive) -> None:
    _tamper(copy, 5)
    start, end = T0 + timedelta(hours=4, minutes=30), T0 + timedelta(hours=7)
    got, stats = run(copy, start, end, fallback=archive.store)
    assert not stats.refused
    assert ids(got) == ids(copy.between(start, end))


def test_a_deleted_batch_is_named_as_missing_offsets(copy: Archive) -> None:
    okey = sorted(k for k in copy.store.list(layout.EVENTS) if k.endswith(layout.BATCH_SUFFIX))[8]
    for key in (okey, layout.manifest_key(okey), layout.manifest_sig_key(okey)):
        (copy.root / key).unlink()
    start, end = T0 + timedelta(hours=7, minutes=30), T0 + timedelta(hours=9, minutes=30)
    got, stats = run(copy, start, end)
    assert len(stats.refused) == 1
    assert "offsets 800..899 are missing" in stats.refused[0]
    assert ids(got) == ids([d for d in copy.between(start, end) if d not in copy.docs[800:900]])


def test_a_swapped_manifest_signature_is_refused_or_emitted_marked(copy: Archive) -> None:
    keys = sorted(
        k for k in copy.store.list(layout.EVENTS) if k.endswith(layout.MANIFEST_SIG_SUFFIX)
    )
    a, b = copy.root / keys[3], copy.root / keys[4]
    sig_a, sig_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(sig_b)
    b.write_bytes(sig_a)
    start, end = T0 + timedelta(hours=3, minutes=10), T0 + timedelta(hours=3, minutes=20)
    got, stats = run(copy, start, end)
    assert len(stats.refused) == 1
    assert "signature" in stats.refused[0]
    assert keys[3].removesuffix(".manifest.sig") in stats.refused[0]
    assert got == []

    got, stats = run(copy, start, end, allow_unverified=True)
    assert not stats.refused
    assert len(stats.unverified) == 1
    assert ids(got) == ids(copy.between(start, end))
    assert all(d[UNVERIFIED] == keys[3].removesuffix(".manifest.sig") for d in got)


def _delete(a: Archive, index: int) -> None:
    okey = sorted(k for k in a.store.list(layout.EVENTS) if k.endswith(layout.BATCH_SUFFIX))[index]
    for key in (okey, layout.manifest_key(okey), layout.manifest_sig_key(okey)):
        (a.root / key).unlink()


def test_missing_offsets_are_read_from_the_other_region(archive: Archive, copy: Archive) -> None:
    _delete(copy, 8)
    start, end = T0 + timedelta(hours=7, minutes=30), T0 + timedelta(hours=9, minutes=30)
    got, stats = run(copy, start, end, fallback=archive.store)
    assert not stats.refused
    assert ids(got) == ids(copy.between(start, end))  # in offset order, the gap filled


def test_a_deleted_last_batch_of_the_window_is_named_or_filled(
    archive: Archive, copy: Archive
) -> None:
    _delete(copy, 9)  # hours 9..10: the window's last overlapping batch
    start, end = T0 + timedelta(hours=8, minutes=30), T0 + timedelta(hours=9, minutes=30)
    got, stats = run(copy, start, end)
    assert len(stats.refused) == 1
    assert "offsets 900..999 are missing" in stats.refused[0]
    assert ids(got) == ids([d for d in copy.between(start, end) if d not in copy.docs[900:]])
    got, stats = run(copy, start, end, fallback=archive.store)
    assert not stats.refused
    assert ids(got) == ids(copy.between(start, end))
