"""Keys: generation, key ids, keyrings, and rotation keeping old batches verifiable."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from pipeline.archive.format import keys
from pipeline.archive.format.keys import Keyring, load_private_key, load_public_key
from pipeline.archive.format.store import FileStore
from pipeline.archive.verify.verify import verify
from pipeline.archive.write.importer import import_jsonl
from pipeline.errors import ConfigError
from tests.unit.archive.conftest import FakeClock, write_jsonl


def test_generate_writes_a_pem_pair(tmp_path: Path) -> None:
    private, public = keys.generate(tmp_path / "k")
    assert "pub" in public.name
    assert "pub" not in private.name
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    signer = load_private_key(private)
    pub = load_public_key(public)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert signer.key_id == hashlib.sha256(raw).hexdigest()[:16] == keys.key_id(pub)
    assert private.name.startswith(signer.key_id)
    assert Keyring.from_dir(tmp_path / "k").keys.keys() == {signer.key_id}
    sig = signer.sign(b"data")
    assert Keyring([pub]).verify(signer.key_id, b"data", sig) is None
    assert "does not verify" in (Keyring([pub]).verify(signer.key_id, b"other", sig) or "")


def test_bad_key_files(tmp_path: Path) -> None:
    (tmp_path / "x.pub.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        Keyring.from_dir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no public keys"):
        Keyring.from_dir(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not found"):
        load_private_key(tmp_path / "missing.pem")


def test_rotation_keeps_old_batches_verifiable(tmp_path: Path, docs: list[dict[str, Any]]) -> None:
    ring_dir = tmp_path / "ring"
    old_private, _ = keys.generate(ring_dir)
    first = write_jsonl(tmp_path / "1.jsonl", docs[:120])
    second = write_jsonl(tmp_path / "2.jsonl", docs[120:200])
    store = FileStore(tmp_path / "archive", fsync=False)
    clock = FakeClock()
    import_jsonl(first, store, load_private_key(old_private), batch_size=50, clock=clock)
    # a new key, added to the ring; later imports continue the same chains
    new_private, new_public = keys.generate(ring_dir)
    result = import_jsonl(second, store, load_private_key(new_private), batch_size=50, clock=clock)
    assert (result.first_offset, result.last_offset) == (120, 199)
    report = verify(store, Keyring.from_dir(ring_dir), deep=True)
    assert report.ok, report.problems
    assert report.summary.events == 200
    only_new = verify(store, Keyring.from_file(new_public))
    assert {p.kind for p in only_new.problems} == {"signature"}
    assert all("not in the keyring" in p.message for p in only_new.problems)
