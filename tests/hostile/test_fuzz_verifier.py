"""Hypothesis fuzzing of the verifier (issue 16): any corruption of a signed archive is reported,
never crashes ``verify`` and never leaves it OK; any mutation of a field of an inclusion proof
makes ``verify_proof`` fail, never crash."""

from __future__ import annotations

import base64
import contextlib
import copy
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.archive.format import layout
from pipeline.archive.format.body import peek_id_ts
from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.format.ocf import read_ocf
from pipeline.archive.format.store import FileStore
from pipeline.archive.verify.proof import prove, verify_proof
from pipeline.archive.verify.verify import verify
from tests.hostile.archives import HEARTBEAT_S, bodies, streaming_archive

SIGNER = Signer.generate()
RING = Keyring([SIGNER.public_key()])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "archive"
    streaming_archive(root, SIGNER, bodies(40), batch=8, ago=timedelta(seconds=10 * HEARTBEAT_S))
    assert verify(FileStore(root, fsync=False), RING).ok
    return root


def _files(root: Path) -> list[Path]:
    # what verify covers: the batches, manifests, checkpoints and their signatures
    return sorted(
        p
        for prefix in (layout.EVENTS, layout.CHECKPOINTS)
        for p in (root / prefix).rglob("*")
        if p.is_file()
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in _files(root)}


corruption = st.tuples(
    st.integers(min_value=0, max_value=10**6),  # which file
    st.sampled_from(["flip", "truncate", "delete", "append", "swap"]),
    st.integers(min_value=0, max_value=10**6),  # where
    st.integers(min_value=1, max_value=255),  # xor mask / appended byte
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(corruption, min_size=1, max_size=3))
def test_verify_reports_every_corruption(
    template: Path, ops: list[tuple[int, str, int, int]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "a"
        shutil.copytree(template, root)
        for which, op, where, byte in ops:
            files = _files(root)
            if not files:
                break
            path = files[which % len(files)]
            data = path.read_bytes()
            if op == "flip" and data:
                i = where % len(data)
                path.write_bytes(data[:i] + bytes([data[i] ^ byte]) + data[i + 1 :])
            elif op == "truncate" and data:
                path.write_bytes(data[: where % len(data)])
            elif op == "delete":
                path.unlink()
            elif op == "append":
                path.write_bytes(data + bytes([byte]))
            elif op == "swap":
                other = files[where % len(files)]
                if other == path or other.read_bytes() == data:
                    continue
                path.write_bytes(other.read_bytes())
            else:
                continue
        assume(_snapshot(root) != _snapshot(template))
        report = verify(FileStore(root, fsync=False), RING)
        assert not report.ok


@pytest.fixture(scope="module")
def proof(template: Path) -> dict[str, Any]:
    store = FileStore(template, fsync=False)
    mkey = sorted(k for k in store.list(layout.EVENTS) if k.endswith(layout.MANIFEST_SUFFIX))[1]
    body = read_ocf(store.get(layout.object_key_of_manifest(mkey))).body(5)
    found = prove(store, peek_id_ts(body)[0])
    assert found is not None
    assert verify_proof(found, RING) == []
    return found


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
BOUND = [
    "version",
    "kind",
    "event_id",
    "topic",
    "partition",
    "offset",
    "object_key",
    "index",
    "tree_size",
    "leaf",
    "path",
    "manifest",
    "manifest_signature",
    "event",
]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(BOUND), json_values)
def test_verify_proof_fails_on_any_replaced_field(
    proof: dict[str, Any], field: str, value: Any
) -> None:
    assume(value != proof[field] or type(value) is not type(proof[field]))
    mutated = {**proof, field: value}
    assert verify_proof(mutated, RING)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(["leaf", "manifest", "manifest_signature", "path"]), st.data())
def test_verify_proof_fails_on_any_changed_character(
    proof: dict[str, Any], field: str, data: st.DataObject
) -> None:
    mutated = copy.deepcopy(proof)
    if field == "path":
        i = data.draw(st.integers(0, len(mutated["path"]) - 1))
        text = mutated["path"][i]
    else:
        text = mutated[field]
    j = data.draw(st.integers(0, len(text) - 1))
    ch = data.draw(st.characters(codec="ascii").filter(lambda c: c != text[j]))
    new = text[:j] + ch + text[j + 1 :]
    if field in ("leaf", "manifest_signature"):
        # a different base64 text can decode to the same bytes only through padding bits
        with contextlib.suppress(ValueError):
            assume(base64.b64decode(new, validate=True) != base64.b64decode(text))
    if field == "path":
        with contextlib.suppress(ValueError):
            assume(bytes.fromhex(new) != bytes.fromhex(text))
        mutated["path"][i] = new
    else:
        mutated[field] = new
    assert verify_proof(mutated, RING)
