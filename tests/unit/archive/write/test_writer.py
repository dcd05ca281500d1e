"""The writer: idempotent retries, chain continuity, recovery after an interrupted write."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.archive.format import layout
from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.batcher import batch_of
from pipeline.archive.write.flush import open_writer, write_flush
from pipeline.archive.write.importer import Encoder
from pipeline.archive.write.writer import ArchiveWriter, ChainError
from pipeline.events.schemas import AUDIT_EVENT, raw_schema, schema_text
from tests.unit.archive.conftest import FakeClock


@pytest.fixture(scope="module")
def bodies(docs: list[dict[str, Any]]) -> list[bytes]:
    enc = Encoder()
    return [enc.encode(orjson.dumps(d)) for d in docs[:60]]


def writer(store: FileStore, signer: Signer, topic: str = "audit.events") -> ArchiveWriter:
    return ArchiveWriter.open(
        store, signer, topic, raw_schema(AUDIT_EVENT), schema_text(AUDIT_EVENT), clock=FakeClock()
    )


def test_partitions_chain_independently_and_checkpoint_covers_all(
    tmp_path: Path, bodies: list[bytes]
) -> None:
    store, signer = FileStore(tmp_path, fsync=False), Signer.generate()
    w = writer(store, signer)
    w.checkpoint()  # a period with no events still gets a checkpoint
    w.write_batch(batch_of("audit.events", 0, 500, bodies[:10], schema_id=7))
    w.write_batch(batch_of("audit.events", 1, 0, bodies[10:20], schema_id=7))
    w.write_batch(batch_of("audit.events", 0, 510, bodies[20:30], schema_id=7))
    cp = w.checkpoint()
    assert {p: e.last_offset for p, e in cp.partitions.items()} == {"0": 519, "1": 9}
    w.checkpoint()
    assert verify(store, w_ring(signer)).ok
    with pytest.raises(ChainError, match="continues at 520"):
        w.write_batch(batch_of("audit.events", 0, 530, bodies[30:40]))


def w_ring(signer: Signer) -> Keyring:
    return Keyring([signer.public_key()])


def test_recovery_completes_an_interrupted_write(tmp_path: Path, bodies: list[bytes]) -> None:
    store, signer = FileStore(tmp_path, fsync=False), Signer.generate()
    w = writer(store, signer)
    write_flush(w, [batch_of("audit.events", 0, 0, bodies[:10])])
    second = batch_of("audit.events", 0, 10, bodies[10:20])
    cp = write_flush(w, [second])
    # simulate a crash after the manifest was stored, before its signature and the checkpoint
    (tmp_path / layout.manifest_sig_key(second.object_key())).unlink()
    key = layout.checkpoint_key("audit.events", cp.seq, date.fromisoformat(cp.created[:10]))
    (tmp_path / key).unlink()
    (tmp_path / layout.checkpoint_sig_key(key)).unlink()
    assert not verify(store, w_ring(signer)).ok
    w2 = open_writer(writer(store, signer))  # re-signs (Ed25519 is deterministic), checkpoints
    assert w2.state.last_offset(0) == 19
    # a retried batch rebuilds identical bytes: put_if_absent accepts it as a no-op
    assert second.to_ocf(schema_text(AUDIT_EVENT)) == store.get(second.object_key())
    write_flush(w2, [batch_of("audit.events", 0, 20, bodies[20:30])])
    report = verify(store, w_ring(signer))
    assert report.ok, report.problems
