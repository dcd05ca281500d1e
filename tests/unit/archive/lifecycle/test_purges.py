"""verify accepts a recorded purge of a chain prefix; any unrecorded deletion is still reported."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.archive.format import layout, purge_records
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.manifest import Checkpoint, Manifest
from pipeline.archive.format.store import FileStore
from pipeline.archive.lifecycle.purge import PurgePlan, _write_record
from pipeline.archive.lifecycle.regions import Region
from pipeline.archive.verify.compare import Side, compare
from pipeline.archive.verify.verify import verify
from tests.unit.archive.conftest import Archive

NOW = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture
def arc(tmp_path: Path, template: Archive) -> Archive:
    root = tmp_path / "archive"
    shutil.copytree(template.root, root)
    return Archive(root, FileStore(root, fsync=False), template.signer, template.docs)


def _plan(arc: Archive, batches: int, checkpoints: int) -> PurgePlan:
    """The plan a purge of the first ``batches`` batches and ``checkpoints`` checkpoints makes."""
    plan = PurgePlan("local", "import")
    for key in arc.keys(layout.MANIFEST_SUFFIX)[:batches]:
        data = arc.store.get(key)
        plan.manifests.append(
            purge_records.PurgedManifest.of(key, data, Manifest.model_validate_json(data))
        )
        okey = layout.object_key_of_manifest(key)
        plan.keys += [okey, layout.manifest_sig_key(okey), key]
    for key in arc.keys(layout.CHECKPOINT_SUFFIX, layout.CHECKPOINTS)[:checkpoints]:
        data = arc.store.get(key)
        plan.checkpoints.append(
            purge_records.PurgedCheckpoint.of(key, data, Checkpoint.model_validate_json(data))
        )
        plan.keys += [layout.checkpoint_sig_key(key), key]
    return plan


def _record(arc: Archive, plan: PurgePlan, signer: Signer | None = None) -> str:
    region = Region("local", arc.store, None)  # type: ignore[arg-type]  # records need no bucket
    return _write_record(region, plan, signer or arc.signer, NOW, None)


def _delete(arc: Archive, keys: list[str]) -> None:
    for key in keys:
        arc.path(key).unlink()


def _problems(arc: Archive) -> list[str]:
    return [str(p) for p in verify(arc.store, arc.keyring).problems]


def test_recorded_purge_of_a_prefix_verifies_clean(arc: Archive) -> None:
    plan = _plan(arc, batches=2, checkpoints=1)
    key = _record(arc, plan)
    _delete(arc, plan.keys)
    assert _problems(arc) == []
    assert key == "purges/import/00000000000000000000.json"
    # a second purge continues the record chain
    plan2 = _plan(arc, batches=1, checkpoints=0)
    assert _record(arc, plan2).endswith("00000000000000000001.json")
    _delete(arc, plan2.keys)
    assert _problems(arc) == []


def test_checkpoint_naming_a_purged_manifest_is_accepted(arc: Archive) -> None:
    plan = _plan(arc, batches=2, checkpoints=0)  # checkpoint 0 names batch 2's manifest
    _record(arc, plan)
    _delete(arc, plan.keys)
    assert _problems(arc) == []


def test_unrecorded_deletion_is_still_reported(arc: Archive) -> None:
    plan = _plan(arc, batches=2, checkpoints=1)
    _delete(arc, plan.keys)  # no purge record
    problems = _problems(arc)
    assert any(p.startswith("chain:") and "earlier batches were deleted" in p for p in problems)
    assert any("earlier checkpoints were deleted" in p for p in problems)


def test_deleting_more_than_the_record_names_is_reported(arc: Archive) -> None:
    plan = _plan(arc, batches=2, checkpoints=0)
    _record(arc, plan)
    bigger = _plan(arc, batches=3, checkpoints=0)
    _delete(arc, bigger.keys)  # batch 3 was not in the record
    problems = _problems(arc)
    fourth = arc.keys(layout.MANIFEST_SUFFIX)[0]  # now the first manifest left
    assert any(
        p.startswith(f"chain: {fourth}") and "earlier batches were deleted" in p for p in problems
    ), problems


def test_record_signed_by_an_unknown_key_is_not_accepted(arc: Archive) -> None:
    plan = _plan(arc, batches=2, checkpoints=1)
    key = _record(arc, plan, Signer.generate())
    _delete(arc, plan.keys)
    problems = _problems(arc)
    assert any(p.startswith(f"signature: {key}") for p in problems), problems
    assert any("earlier batches were deleted" in p for p in problems)


def test_edited_record_is_reported(arc: Archive) -> None:
    plan = _plan(arc, batches=2, checkpoints=0)
    key = _record(arc, plan)
    path = arc.path(key)
    path.write_bytes(path.read_bytes().replace(b'"region":"local"', b'"region":"elsewh"'))
    _delete(arc, plan.keys)
    assert any(p.startswith(f"signature: {key}") for p in _problems(arc))


def test_deleted_record_is_reported(arc: Archive) -> None:
    first = _plan(arc, batches=1, checkpoints=0)
    key0 = _record(arc, first)
    _delete(arc, first.keys)
    second = _plan(arc, batches=1, checkpoints=0)
    _record(arc, second)
    _delete(arc, second.keys)
    _delete(arc, [key0, purge_records.record_sig_key(key0)])
    problems = _problems(arc)
    assert any("purge-record" in p and "chain of purge records" in p for p in problems), problems


def test_interrupted_purge_leaves_a_verifiable_archive(arc: Archive) -> None:
    plan = _plan(arc, batches=2, checkpoints=0)
    _record(arc, plan)
    _delete(arc, plan.keys[:1])  # the first batch object only; its manifest is still there
    assert _problems(arc) == []


def test_compare_accepts_a_range_one_region_purged_and_recorded(
    arc: Archive, tmp_path: Path, template: Archive
) -> None:
    other = tmp_path / "other"
    shutil.copytree(template.root, other)
    plan = _plan(arc, batches=2, checkpoints=1)
    _record(arc, plan)
    _delete(arc, plan.keys)
    result = compare(Side("a", arc.store), Side("b", FileStore(other, fsync=False)))
    assert result.ok, [str(p) for p in result.problems]


def test_compare_reports_a_range_deleted_without_a_record(
    arc: Archive, tmp_path: Path, template: Archive
) -> None:
    other = tmp_path / "other"
    shutil.copytree(template.root, other)
    plan = _plan(arc, batches=2, checkpoints=0)
    _delete(arc, plan.keys)
    result = compare(Side("a", arc.store), Side("b", FileStore(other, fsync=False)))
    assert any("offsets 0..99 are in b but not in a" in str(p) for p in result.problems)
