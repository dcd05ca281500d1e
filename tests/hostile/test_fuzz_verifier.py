"""Hypothesis fuzzing of the verifier (issue 16): any corruption of a signed archive is reported,
never crashes ``verify`` and never leaves it OK; any mutation of a field of an inclusion proof
makes ``verify_proof`` fail, never crash. Added for issue 18: an *inserted* object (promise 3
names insertion), proofs with required fields removed, and the ``verify-proof`` command itself
on any mutation of a proof file (exit 1 or 2, never 0, never a traceback)."""

from __future__ import annotations

import base64
import contextlib
import copy
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
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
from pipeline.cli.safe import EXIT_FAILED, EXIT_UNUSABLE
from tests.hostile.archives import HEARTBEAT_S, bodies, streaming_archive, write_public_key
from tests.hostile.conftest import Cli

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


# --- issue 18: insertion, removed fields, the command ---------------------------------------

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(["copy", "rename"]))
def test_verify_reports_an_inserted_object(template: Path, which: int, at: int, how: str) -> None:
    """A file copied to a new key beside another (same prefix, a key that sorts anywhere)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "a"
        shutil.copytree(template, root)
        files = _files(root)
        src, beside = files[which % len(files)], files[at % len(files)]
        stem = beside.name.split(".", 1)
        new = beside.with_name(f"{stem[0]}0{'.' + stem[1] if len(stem) > 1 else ''}")
        assume(not new.exists())
        if how == "copy":
            new.write_bytes(src.read_bytes())
        else:  # the same object under another name: the old one gone
            src.rename(new)
        assert not verify(FileStore(root, fsync=False), RING).ok


@FUZZ
@given(st.data())
def test_verify_proof_fails_when_fields_are_removed(
    proof: dict[str, Any], data: st.DataObject
) -> None:
    """Every field but the two derived from ``leaf`` (``leaf_hash`` and the decoded ``event``:
    optional, checked against the leaf when present, printed by nothing) is required."""
    required = sorted(set(proof) - {"leaf_hash", "event"})
    gone = data.draw(st.sets(st.sampled_from(required), min_size=1))
    assert verify_proof({k: v for k, v in proof.items() if k not in gone}, RING)


json_any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def public_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_public_key(SIGNER, tmp_path_factory.mktemp("pub") / "archive.pub")


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200).map(lambda b: ("bytes", b)),
        json_any.map(lambda v: ("json", v)),
        st.tuples(st.sampled_from(["drop", "null", "swap"]), st.integers(0, 100)),
    )
)
def test_the_verify_proof_command_never_says_ok_nor_crashes_on_a_mutated_file(
    cli: Cli, proof: dict[str, Any], public_key: Path, mutation: tuple[str, Any]
) -> None:
    kind, arg = mutation
    if kind == "bytes":
        content = arg
    elif kind == "json":
        content = orjson.dumps(arg)
    else:
        keys = sorted(set(proof) - {"leaf_hash", "event"})  # optional, see above
        k, other = keys[arg % len(keys)], keys[(arg + 1) % len(keys)]
        doc = dict(proof)
        if kind == "drop":
            doc.pop(k)
        elif kind == "null":
            doc[k] = None
        else:
            doc[k], doc[other] = doc[other], doc[k]
            assume(doc[k] != doc[other])
        content = orjson.dumps(doc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "proof.json"
        path.write_bytes(content)
        r = cli("verify-proof", str(path), "--public-key", str(public_key))
    assert r.code in (EXIT_FAILED, EXIT_UNUSABLE), r.text[-2000:]
    r.check(r.code)
