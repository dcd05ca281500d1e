"""Tamper tests on a file:// archive built by the importer: every change is found and located."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.archive.format import layout
from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.manifest import Manifest
from pipeline.archive.verify.verify import Report, verify
from tests.unit.archive.conftest import BATCH, EVENTS, Archive


def check(archive: Archive, **kwargs: object) -> Report:
    return verify(archive.store, archive.keyring, **kwargs)  # type: ignore[arg-type]


def concerning(report: Report, key: str) -> list[str]:
    return [str(p) for p in report.problems if key in str(p)]


def test_untouched_archive_verifies(archive: Archive) -> None:
    report = check(archive)
    assert report.ok, report.problems
    s = report.summary
    assert (s.events, s.batches, s.partitions, s.checkpoints) == (EVENTS, EVENTS // BATCH, 1, 3)
    assert check(archive, deep=True).ok
    assert check(archive, jobs=2).ok


def test_flipped_byte_in_a_batch(archive: Archive) -> None:
    key = archive.keys(".avro")[2]
    data = bytearray(archive.path(key).read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.path(key).write_bytes(bytes(data))
    report = check(archive)
    assert [p.kind for p in report.problems] == ["object-hash"]
    assert report.problems[0].key == key


def test_deleted_batch_object(archive: Archive) -> None:
    key = archive.keys(".avro")[1]
    archive.path(key).unlink()
    report = check(archive)
    assert [(p.key, p.kind) for p in report.problems] == [(key, "missing")]


def test_deleted_batch_with_manifest_is_an_offset_gap(archive: Archive) -> None:
    keys = archive.keys(".avro")
    victim = keys[3]  # the head named by the second checkpoint
    for k in (victim, layout.manifest_key(victim), layout.manifest_sig_key(victim)):
        archive.path(k).unlink()
    report = check(archive)
    gap = [p for p in report.problems if p.kind == "coverage"]
    assert len(gap) == 1
    assert f"offsets {3 * BATCH}..{4 * BATCH - 1} are missing" in gap[0].message
    assert keys[2] in gap[0].message
    assert keys[4] in gap[0].message
    assert concerning(report, layout.manifest_key(victim))  # the checkpoint named it


def test_deleted_last_batch_is_found_by_the_checkpoint(archive: Archive) -> None:
    victim = archive.keys(".avro")[-1]
    for k in (victim, layout.manifest_key(victim), layout.manifest_sig_key(victim)):
        archive.path(k).unlink()
    report = check(archive)
    assert [(p.key, p.kind) for p in report.problems] == [(victim, "missing")]


def test_deleted_first_batch_breaks_the_genesis_link(archive: Archive) -> None:
    keys = archive.keys(".avro")
    for k in (keys[0], layout.manifest_key(keys[0]), layout.manifest_sig_key(keys[0])):
        archive.path(k).unlink()
    report = check(archive)
    assert any(p.kind == "chain" and p.key == layout.manifest_key(keys[1]) for p in report.problems)


def test_swapped_batch_objects(archive: Archive) -> None:
    a, b = archive.keys(".avro")[1:3]
    pa, pb = archive.path(a), archive.path(b)
    da, db = pa.read_bytes(), pb.read_bytes()
    pa.write_bytes(db)
    pb.write_bytes(da)
    report = check(archive)
    assert {(p.key, p.kind) for p in report.problems} == {(a, "object-hash"), (b, "object-hash")}


def test_swapped_whole_batches(archive: Archive) -> None:
    a, b = archive.keys(".avro")[1:3]
    for suffix in ("", ".manifest.json", ".manifest.sig"):
        pa, pb = archive.path(a + suffix), archive.path(b + suffix)
        da, db = pa.read_bytes(), pb.read_bytes()
        pa.write_bytes(db)
        pb.write_bytes(da)
    report = check(archive)
    assert concerning(report, a)
    assert concerning(report, b)
    assert {"location"} <= {p.kind for p in report.problems}


def test_deleted_manifest(archive: Archive) -> None:
    key = archive.keys(".avro")[3]
    archive.path(layout.manifest_key(key)).unlink()
    report = check(archive)
    assert (key, "orphan") in {(p.key, p.kind) for p in report.problems}
    assert (layout.manifest_sig_key(key), "orphan") in {(p.key, p.kind) for p in report.problems}


def test_edited_manifest_is_a_bad_signature(archive: Archive) -> None:
    key = layout.manifest_key(archive.keys(".avro")[3])
    m = Manifest.model_validate_json(archive.path(key).read_bytes())
    edited = m.model_copy(update={"created": "2020-01-01T00:00:00.000000Z"})
    archive.path(key).write_bytes(edited.canonical())
    report = check(archive)
    assert (key, "signature") in {(p.key, p.kind) for p in report.problems}


def test_deleted_manifest_signature(archive: Archive) -> None:
    sig = layout.manifest_sig_key(archive.keys(".avro")[0])
    archive.path(sig).unlink()
    report = check(archive)
    assert [(p.key, p.kind) for p in report.problems] == [(sig, "missing")]


def test_deleted_middle_checkpoint(archive: Archive) -> None:
    key = archive.keys(".json", "checkpoints/")[1]
    archive.path(key).unlink()
    report = check(archive)
    assert concerning(report, key)


def test_deleted_first_checkpoint(archive: Archive) -> None:
    key = archive.keys(".json", "checkpoints/")[0]
    archive.path(key).unlink()
    assert concerning(check(archive), key)


def test_deleted_latest_checkpoint_leaves_batches_uncovered(archive: Archive) -> None:
    key = archive.keys(".json", "checkpoints/")[-1]
    archive.path(key).unlink()
    archive.path(layout.checkpoint_sig_key(key)).unlink()
    report = check(archive)
    last_batch = archive.keys(".avro")[-1]
    assert [(p.key, p.kind) for p in report.problems] == [(last_batch, "checkpoint")]
    assert "not covered" in report.problems[0].message


def test_edited_checkpoint(archive: Archive) -> None:
    key = archive.keys(".json", "checkpoints/")[1]
    path = archive.path(key)
    path.write_bytes(path.read_bytes().replace(b'"seq":1', b'"seq":7'))
    report = check(archive)
    assert "signature" in {p.kind for p in report.problems if p.key == key}


def test_wrong_public_key(archive: Archive) -> None:
    report = verify(archive.store, Keyring([Signer.generate().public_key()]))
    keyed = {p.key for p in report.problems if p.kind == "signature"}
    assert set(archive.keys(".manifest.json")) <= keyed
    assert set(archive.keys(".json", "checkpoints/")) <= keyed
    assert "not in the keyring" in report.problems[0].message


def test_inserted_object(archive: Archive) -> None:
    key = archive.keys(".avro")[0].replace("00000000000000000000-", "00000000000000000001-")
    archive.path(key).write_bytes(b"junk")
    stray = "events/import/notes.txt"
    archive.path(stray).write_bytes(b"x")
    report = check(archive)
    assert {(key, "orphan"), (stray, "unexpected")} <= {(p.key, p.kind) for p in report.problems}


def test_time_range_checks_only_overlapping_batches(archive: Archive) -> None:
    all_ts = sorted(d["ts"] for d in archive.docs)
    start = datetime.fromisoformat(all_ts[0].replace("Z", "+00:00"))
    end = datetime(2026, 11, 1, 9, 0, 1, tzinfo=UTC)
    report = check(archive, start=start, end=end)
    assert report.ok, report.problems
    assert 0 < report.summary.batches < EVENTS // BATCH
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert check(archive, start=later, end=later).summary.batches == 0


# --- property: any single-byte flip anywhere in any stored object is detected -----------------


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    file_pick=st.integers(min_value=0),
    pos_pick=st.integers(min_value=0),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_byte_flip_is_detected(
    template: Archive, file_pick: int, pos_pick: int, mask: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "a"
        shutil.copytree(template.root, root)
        copy = Archive(root, type(template.store)(root, fsync=False), template.signer, [])
        # every object but the writer's unsigned recovery hints (intents/, see archive.chain)
        keys = [k for k in copy.store.list("") if not k.startswith(layout.INTENTS)]
        key = keys[file_pick % len(keys)]
        data = bytearray(copy.path(key).read_bytes())
        data[pos_pick % len(data)] ^= mask
        copy.path(key).write_bytes(bytes(data))
        report = check(copy)
        assert not report.ok
        related = {
            key,
            key.removesuffix(".manifest.sig") + ".manifest.json",
            key.removesuffix(".sig") + ".json",
        }
        assert any(p.key in related for p in report.problems), report.problems
