"""The Merkle tree against RFC 6962's definition and Certificate Transparency's test vectors."""

from __future__ import annotations

import hashlib
import random

import pytest

from pipeline.archive.format import merkle

# certificate-transparency's merkle tree test inputs and the roots of their prefixes
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def reference_mth(data: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, literally."""
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(data[:k]) + reference_mth(data[k:])).digest()


def reference_path(m: int, data: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1 PATH(m, D[n]), literally."""
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*reference_path(m, data[:k]), reference_mth(data[k:])]
    return [*reference_path(m - k, data[k:]), reference_mth(data[:k])]


def bodies(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(0, 40)) for _ in range(n)]


@pytest.mark.parametrize("size", range(1, 9))
def test_certificate_transparency_vectors(size: int) -> None:
    data = [bytes.fromhex(x) for x in CT_LEAVES[:size]]
    assert merkle.root(merkle.leaf_hashes_of(data)).hex() == CT_ROOTS[size - 1]


def test_empty_tree_is_hash_of_nothing() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("n", range(1, 41))
def test_root_matches_rfc_definition(n: int) -> None:
    data = bodies(n, seed=n)
    leaves = merkle.leaf_hashes_of(data)
    assert merkle.root(leaves) == reference_mth(data)
    joined = b"".join(data)
    bounds = [0]
    for d in data:
        bounds.append(bounds[-1] + len(d))
    assert merkle.leaf_hashes(joined, bounds) == leaves


@pytest.mark.parametrize("n", range(1, 41))
def test_every_inclusion_proof_verifies_and_matches_rfc(n: int) -> None:
    data = bodies(n, seed=100 + n)
    leaves = merkle.leaf_hashes_of(data)
    root = merkle.root(leaves)
    for i in range(n):
        path = merkle.inclusion_proof(leaves, i)
        assert path == reference_path(i, data)
        assert merkle.verify_inclusion(leaves[i], i, n, path, root)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 31, 40])
def test_tampered_proofs_fail(n: int) -> None:
    data = bodies(n, seed=n)
    leaves = merkle.leaf_hashes_of(data)
    root = merkle.root(leaves)
    for i in range(n):
        path = merkle.inclusion_proof(leaves, i)
        other = merkle.leaf_hash(data[i] + b"x")
        assert not merkle.verify_inclusion(other, i, n, path, root)
        for j in range(len(path)):
            bad = list(path)
            bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
            assert not merkle.verify_inclusion(leaves[i], i, n, bad, root)
        assert not merkle.verify_inclusion(leaves[i], i, n, path[:-1], root)
        assert not merkle.verify_inclusion(leaves[i], i, n, [*path, root], root)
        assert not merkle.verify_inclusion(leaves[i], (i + 1) % n, n, path, root)
        # (the tree size is not bound by the path alone: proofs carry the signed manifest,
        # whose count must equal tree_size; see test_proof)


def test_out_of_range() -> None:
    leaves = merkle.leaf_hashes_of([b"a", b"b"])
    with pytest.raises(IndexError):
        merkle.inclusion_proof(leaves, 2)
    assert merkle.root_from_proof(leaves[0], 2, 2, []) is None
    assert merkle.root_from_proof(leaves[0], -1, 2, []) is None


def test_leaf_and_node_are_domain_separated() -> None:
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    # a leaf whose body looks like two child hashes does not collide with their parent
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)
