"""The optional native Merkle hashing (native/) against the pure-Python code, byte for byte.

The pure-Python half always runs; the native half runs when ``auditpipe_native`` is installed
(``make install`` and CI install it).
"""

from __future__ import annotations

import hashlib
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.archive.format import merkle
from tests.unit.archive.format.test_merkle import reference_mth

try:
    import auditpipe_native as native
except ImportError:
    native = None

# 0, 1, 2 and odd counts come up on their own; empty records are drawn often
records = st.lists(st.binary(max_size=40) | st.just(b""), max_size=70)


def pack(data: list[bytes]) -> tuple[bytes, list[int]]:
    return b"".join(data), list(accumulate(map(len, data), initial=0))


@given(records)
def test_python_path_matches_rfc6962(data: list[bytes]) -> None:
    joined, bounds = pack(data)
    leaves = merkle.py_leaf_hashes(joined, bounds)
    assert leaves == [hashlib.sha256(b"\x00" + d).digest() for d in data]
    assert merkle.py_root(leaves) == reference_mth(data)


@given(records)
def test_public_functions_match_python_path(data: list[bytes]) -> None:
    """Whichever backend is in use, the public functions give the pure-Python answers."""
    joined, bounds = pack(data)
    leaves = merkle.py_leaf_hashes(joined, bounds)
    want = merkle.py_root(leaves)
    assert merkle.leaf_hashes(joined, bounds) == leaves
    assert merkle.root(leaves) == want
    assert merkle.records_root(joined, bounds) == want


def test_backend_names_what_is_importable() -> None:
    expected = "python" if native is None else "native"
    assert expected == merkle.BACKEND


def test_root_rejects_leaves_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        merkle.root([b"\x00" * 32, b"\x00" * 31])


@pytest.mark.skipif(
    native is None, reason="auditpipe_native is not installed (pip install ./native)"
)
class TestNative:
    @settings(max_examples=300)
    @given(records)
    def test_agrees_with_python(self, data: list[bytes]) -> None:
        joined, bounds = pack(data)
        leaves = merkle.py_leaf_hashes(joined, bounds)
        want = merkle.py_root(leaves)
        assert native.leaf_hashes(joined, bounds) == b"".join(leaves)
        assert native.root(b"".join(leaves)) == want
        assert native.leaves_and_root(joined, bounds) == (b"".join(leaves), want)

    @given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
    def test_root_of_arbitrary_leaf_hashes(self, leaves: list[bytes]) -> None:
        assert native.root(b"".join(leaves)) == merkle.py_root(leaves)

    def test_empty_tree_and_no_bounds(self) -> None:
        assert native.root(b"") == hashlib.sha256(b"").digest()
        assert native.leaves_and_root(b"abc", []) == (b"", hashlib.sha256(b"").digest())
        assert native.leaves_and_root(b"abc", [0]) == (b"", hashlib.sha256(b"").digest())

    def test_large_batch(self) -> None:
        data = [i.to_bytes(4, "big") * (i % 7) for i in range(10_001)]
        joined, bounds = pack(data)
        assert native.leaves_and_root(joined, bounds)[1] == reference_mth(data)

    @pytest.mark.parametrize(
        ("bounds", "why"),
        [([0, 4], "beyond the data"), ([2, 1], "decreasing"), ([0, 1, 0], "decreasing")],
    )
    def test_rejects_bad_bounds(self, bounds: list[int], why: str) -> None:
        with pytest.raises(ValueError, match="bounds"):
            native.leaf_hashes(b"abc", bounds)
        with pytest.raises(ValueError, match="bounds"):
            native.leaves_and_root(b"abc", bounds)

    def test_rejects_negative_bounds_and_ragged_leaves(self) -> None:
        with pytest.raises(OverflowError):
            native.leaf_hashes(b"abc", [-1, 2])
        with pytest.raises(ValueError, match="32 bytes"):
            native.root(b"\x00" * 33)
