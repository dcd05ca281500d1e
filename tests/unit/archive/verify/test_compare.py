"""verify --compare: two archives (regions) with the same events, cut into different batches,
compare clean; a missing range, a changed event or a broken cross-witness is reported."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from pipeline.archive.format import layout
from pipeline.archive.format.chain import latest_checkpoint_key
from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.verify.compare import Side, compare
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.batcher import batch_of
from pipeline.archive.write.flush import write_flush
from pipeline.archive.write.importer import Encoder
from pipeline.archive.write.witness import WitnessWatcher, latest_witness
from pipeline.archive.write.writer import ArchiveWriter
from pipeline.cli.main import app
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from tests.unit.archive.conftest import FakeClock

TOPIC = "audit.events"


@pytest.fixture(scope="module")
def bodies(docs: list[dict[str, Any]]) -> list[bytes]:
    enc = Encoder()
    return [enc.encode(orjson.dumps(d)) for d in docs[:100]]


def writer(store: FileStore, signer: Signer) -> ArchiveWriter:
    return ArchiveWriter.open(
        store, signer, TOPIC, raw_schema(AUDIT_EVENT), schema_text(AUDIT_EVENT), clock=FakeClock()
    )


def archive_pair(
    tmp_path: Path, bodies: list[bytes], b_bodies: list[bytes] | None = None
) -> tuple[FileStore, FileStore, Signer]:
    """Region a cuts batches of 10, region b of 25 then 7s; each checkpoint witnesses the other."""
    sa, sb = FileStore(tmp_path / "a", fsync=False), FileStore(tmp_path / "b", fsync=False)
    signer = Signer.generate()
    wa, wb = writer(sa, signer), writer(sb, signer)
    b_bodies = b_bodies or bodies
    cuts_b = [0, 25, 32, 39, 46, 53, 60, 67, 74, 81, 88, 95, 100]
    for i in range(10):
        batch = batch_of(TOPIC, 0, 10 * i, bodies[10 * i : 10 * i + 10], schema_id=1)
        write_flush(wa, [batch], latest_witness(sb, "b", TOPIC))
        lo, hi = cuts_b[i], cuts_b[i + 1]
        batch = batch_of(TOPIC, 0, lo, b_bodies[lo:hi], schema_id=1)
        write_flush(wb, [batch], latest_witness(sa, "a", TOPIC))
    for lo, hi in itertools.pairwise(cuts_b[10:]):
        write_flush(wb, [batch_of(TOPIC, 0, lo, b_bodies[lo:hi], schema_id=1)])
    return sa, sb, signer


def test_same_events_in_different_batches_compare_clean(
    tmp_path: Path, bodies: list[bytes]
) -> None:
    sa, sb, signer = archive_pair(tmp_path, bodies)
    ring = Keyring([signer.public_key()])
    assert verify(sa, ring).ok
    assert verify(sb, ring).ok
    result = compare(Side("a", sa), Side("b", sb))
    assert result.ok, result.problems
    assert result.partitions == 1
    assert result.witnesses >= 18  # every checkpoint but the first of each side witnessed


def test_identical_batches_compare_by_root(tmp_path: Path, bodies: list[bytes]) -> None:
    sa, sb = FileStore(tmp_path / "a", fsync=False), FileStore(tmp_path / "b", fsync=False)
    signer = Signer.generate()
    for store, docs in ((sa, bodies), (sb, bodies[:40] + bodies[41:42] + bodies[41:])):
        w = writer(store, signer)
        write_flush(w, [batch_of(TOPIC, 0, 0, docs[:50]), batch_of(TOPIC, 0, 50, docs[50:])])
    result = compare(Side("a", sa), Side("b", sb))
    assert [(p.kind, p.key.rsplit("/", 1)[-1]) for p in result.problems] == [
        ("compare", "00000000000000000000-00000000000000000049.avro")
    ]
    assert "Merkle roots differ" in result.problems[0].message


def test_missing_range_and_changed_event_are_reported_per_object(
    tmp_path: Path, bodies: list[bytes]
) -> None:
    changed = list(bodies)
    changed[33] = bodies[34]  # region b holds another event at offset 33
    sa, sb, _ = archive_pair(tmp_path, bodies, changed)
    # region a loses its last batch (offsets 90..99) and the checkpoint after it
    (last,) = [k for k in sa.list("events/") if k.endswith("00000000000000000099.avro")]
    for key in (last, layout.manifest_key(last), layout.manifest_sig_key(last)):
        (tmp_path / "a" / key).unlink()
    result = compare(Side("a", sa), Side("b", sb))
    messages = sorted(f"{p.key.rsplit('/', 1)[-1]} {p.message}" for p in result.problems)
    assert any(
        m.startswith("00000000000000000030-00000000000000000039.avro a and b")
        and "offsets 33..33" in m
        for m in messages
    ), messages
    assert any("offsets 90..99 are in b but not in a" in m for m in messages), messages
    assert not result.ok


def test_a_changed_witnessed_checkpoint_is_reported(tmp_path: Path, bodies: list[bytes]) -> None:
    sa, sb, _ = archive_pair(tmp_path, bodies)
    key = latest_checkpoint_key(sb, TOPIC)
    assert key is not None
    # b's checkpoints are witnessed by a; rewrite an early one (a forged history of b)
    early = sorted(k for k in sb.list("checkpoints/") if k.endswith(".json"))[2]
    path = tmp_path / "b" / early
    path.write_bytes(path.read_bytes().replace(b'"seq":2', b'"seq":2 '))
    result = compare(Side("a", sa), Side("b", sb))
    assert [(p.kind, p.key) for p in result.problems] == [("witness", early)]


def test_watcher_follows_the_other_region(tmp_path: Path, bodies: list[bytes]) -> None:
    _, sb, _ = archive_pair(tmp_path, bodies)
    watcher = WitnessWatcher(sb, "b", TOPIC)
    assert watcher.latest() is None
    found = watcher.refresh()
    assert found is not None
    assert found.checkpoint_key == latest_checkpoint_key(sb, TOPIC)
    assert watcher.latest() == found
    assert WitnessWatcher(FileStore(tmp_path / "empty"), "c", TOPIC).refresh() is None


@pytest.mark.integration  # verify/prove/import emit the read's audit event (issue 12)
def test_cli_verify_compare(tmp_path: Path, bodies: list[bytes]) -> None:
    sa, sb, signer = archive_pair(tmp_path, bodies)
    pub = tmp_path / "key.pub.pem"
    pub.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    runner = CliRunner()
    args = ["verify", "--source", sa.root.as_uri(), "--public-key", str(pub), "--jobs", "1"]
    ok = runner.invoke(app, [*args, "--compare", sb.root.as_uri()])
    assert ok.exit_code == 0, ok.output
    assert "compare: same events; 1 partitions" in ok.output
    (first,) = [k for k in sb.list("events/") if k.endswith("00000000000000000024.avro")]
    for key in (first, layout.manifest_key(first), layout.manifest_sig_key(first)):
        (tmp_path / "b" / key).unlink()
    bad = runner.invoke(app, [*args, "--compare", sb.root.as_uri()])
    assert bad.exit_code == 1
    assert "offsets 0..24 are in" in bad.output
