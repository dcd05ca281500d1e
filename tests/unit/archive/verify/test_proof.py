"""Inclusion proofs: prove an event offline, and refuse altered proofs."""

from __future__ import annotations

import base64
import copy

import pytest

from pipeline.archive.format.keys import Keyring, Signer
from pipeline.archive.verify.proof import prove, verify_proof
from tests.unit.archive.conftest import Archive


@pytest.mark.parametrize("index", [0, 1, 49, 50, 173, 299])
def test_proof_of_every_kind_of_position_verifies(archive: Archive, index: int) -> None:
    doc = archive.docs[index]
    proof = prove(archive.store, doc["event_id"])
    assert proof is not None
    assert proof["offset"] == index
    assert proof["event"]["event_id"] == doc["event_id"]
    assert proof["event"]["action"] == doc["action"]
    assert verify_proof(proof, archive.keyring) == []


def test_unknown_event_has_no_proof(archive: Archive) -> None:
    assert prove(archive.store, "no-such-event") is None


def test_altered_proofs_fail(archive: Archive) -> None:
    proof = prove(archive.store, archive.docs[120]["event_id"])
    assert proof is not None
    ring = archive.keyring

    def altered(**changes: object) -> list[str]:
        p = copy.deepcopy(proof)
        p.update(changes)
        return verify_proof(p, ring)

    other = prove(archive.store, archive.docs[121]["event_id"])
    assert other is not None
    assert altered(leaf=other["leaf"])  # another event's body
    assert altered(event_id=archive.docs[121]["event_id"])
    assert altered(index=proof["index"] + 1, offset=proof["offset"] + 1)
    assert altered(path=list(reversed(proof["path"])))
    assert altered(manifest=proof["manifest"].replace('"count":50', '"count":51'))
    assert altered(manifest_signature=base64.b64encode(bytes(64)).decode())
    assert altered(tree_size=proof["tree_size"] + 1)
    assert altered(event={**proof["event"], "action": "logout"})
    assert altered(path="zz")
    assert verify_proof(proof, Keyring([Signer.generate().public_key()]))
