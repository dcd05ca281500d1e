"""RFC 6962 Merkle hashing for auditpipe (native/src/lib.rs); the GIL is released while hashing."""

from collections.abc import Sequence

def leaf_hashes(data: bytes, bounds: Sequence[int], /) -> bytes:
    """SHA-256(0x00 || data[bounds[i]:bounds[i + 1]]) for each i, concatenated (32 bytes each)."""

def root(leaves: bytes, /) -> bytes:
    """RFC 6962 tree hash of concatenated 32-byte leaf hashes (SHA-256("") when empty)."""

def leaves_and_root(data: bytes, bounds: Sequence[int], /) -> tuple[bytes, bytes]:
    """``(leaf_hashes(data, bounds), root(leaf_hashes(data, bounds)))`` in one call."""
