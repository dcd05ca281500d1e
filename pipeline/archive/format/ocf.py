"""Avro object container files built from raw Avro bodies, and split back into them.

Written by hand (per the Avro 1.11 spec, "Object Container Files") because the archive never
decodes events in its hot path: events on ``audit.events`` already are Avro binary bodies, and an
OCF data block is just their concatenation. fastavro's writer would need decoded datums (and
decoding + re-encoding runs at ~12k events/s; this runs at several hundred thousand).

File = ``Obj\\x01`` · metadata map<bytes> · 16-byte sync marker · blocks, where a block is
``count`` (zigzag long) · ``size`` (zigzag long) · (compressed) concatenated bodies · sync.

Codec: ``zstandard`` (level 1) when ``backports.zstd`` (or Python 3.14's ``compression.zstd``,
which is what fastavro uses to read it) is importable, else ``deflate`` (raw RFC 1951).

Each record's length is stored in the header under ``auditpipe.record_lengths`` (base64 of
uint32 little-endian, one per record, in order; base64 because fastavro decodes every metadata
value as UTF-8), so the verifier recomputes Merkle leaves from raw
bodies without decoding; readers that do not know the key ignore it (the spec allows any
metadata). Blocks are cut at ~256 KiB uncompressed, where decompression stays in cache.

The output is deterministic for the same inputs (sorted metadata, caller-chosen sync marker),
so a batch rebuilt after a crash has the same bytes and the write-once store accepts the retry.
"""

from __future__ import annotations

import array
import base64
import binascii
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from types import ModuleType

from pipeline.errors import PipelineError

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
LENGTHS_KEY = "auditpipe.record_lengths"
BLOCK_BYTES = 256 * 1024
ZSTD_LEVEL = 1


class OcfError(PipelineError):
    """Bytes that are not a well-formed Avro object container file of ours."""


def _load_zstd() -> ModuleType | None:
    try:
        if sys.version_info >= (3, 14):  # pragma: no cover - depends on the interpreter
            from compression import zstd
        else:
            from backports import zstd
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return zstd


_ZSTD = _load_zstd()
DEFAULT_CODEC = "zstandard" if _ZSTD is not None else "deflate"


def _deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def _inflate(data: bytes) -> bytes:
    return zlib.decompress(data, -15)


def _compressor(codec: str) -> Callable[[bytes], bytes]:
    if codec == "null":
        return bytes
    if codec == "deflate":
        return _deflate
    if codec == "zstandard" and _ZSTD is not None:
        zstd = _ZSTD
        return lambda data: bytes(zstd.compress(data, level=ZSTD_LEVEL))
    raise OcfError(f"unsupported codec {codec!r} (install backports.zstd for zstandard)")


def _decompressor(codec: str) -> Callable[[bytes], bytes]:
    if codec == "null":
        return bytes
    if codec == "deflate":
        return _inflate
    if codec == "zstandard" and _ZSTD is not None:
        zstd = _ZSTD
        return lambda data: bytes(zstd.decompress(data))
    raise OcfError(f"unsupported codec {codec!r}")


# --- Avro primitives -------------------------------------------------------------------------


def encode_long(value: int) -> bytes:
    """Avro ``long``: zigzag, then base-128 varint."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode an Avro ``long`` at ``pos``; return (value, next position)."""
    shift = 0
    n = 0
    while True:
        try:
            b = buf[pos]
        except IndexError:
            raise OcfError(f"truncated varint at byte {pos}") from None
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
        if shift > 63:
            raise OcfError(f"varint too long at byte {pos}")


def _encode_bytes(data: bytes) -> bytes:
    return encode_long(len(data)) + data


def _read_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = read_long(buf, pos)
    if size < 0 or pos + size > len(buf):
        raise OcfError(f"bad length {size} at byte {pos}")
    return buf[pos : pos + size], pos + size


def encode_lengths(lengths: Sequence[int]) -> bytes:
    arr = array.array("I", lengths)
    if sys.byteorder == "big":  # pragma: no cover - little-endian hosts
        arr.byteswap()
    return base64.b64encode(arr.tobytes())


def decode_lengths(text: bytes) -> list[int]:
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise OcfError(f"{LENGTHS_KEY} is not base64") from None
    if len(data) % 4:
        raise OcfError(f"{LENGTHS_KEY} is {len(data)} bytes, not a multiple of 4")
    arr = array.array("I")
    arr.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover
        arr.byteswap()
    return arr.tolist()


# --- writing ---------------------------------------------------------------------------------


def write_ocf(
    schema_json: str,
    bodies: Sequence[bytes],
    *,
    sync: bytes,
    codec: str = DEFAULT_CODEC,
    block_bytes: int = BLOCK_BYTES,
) -> bytes:
    """An OCF holding ``bodies`` (raw Avro binary records of ``schema_json``) in order."""
    if len(sync) != SYNC_SIZE:
        raise OcfError(f"sync marker must be {SYNC_SIZE} bytes")
    compress = _compressor(codec)
    lengths = [len(b) for b in bodies]
    meta = {
        "avro.codec": codec.encode(),
        "avro.schema": schema_json.encode(),
        LENGTHS_KEY: encode_lengths(lengths),
    }
    parts = [MAGIC, encode_long(len(meta))]
    for key in sorted(meta):
        parts += [_encode_bytes(key.encode()), _encode_bytes(meta[key])]
    parts += [b"\x00", sync]
    start = 0
    size = 0
    for i, length in enumerate(lengths):
        size += length
        if size >= block_bytes or i == len(lengths) - 1:
            data = compress(b"".join(bodies[start : i + 1]))
            parts += [encode_long(i + 1 - start), encode_long(len(data)), data, sync]
            start, size = i + 1, 0
    return b"".join(parts)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OcfContents:
    """A parsed container: header, and the records' raw bodies as one buffer plus bounds."""

    schema_json: str
    codec: str
    metadata: dict[str, bytes]
    data: bytes
    bounds: list[int]  # record i is data[bounds[i]:bounds[i + 1]]

    @property
    def count(self) -> int:
        return len(self.bounds) - 1

    def body(self, index: int) -> bytes:
        return self.data[self.bounds[index] : self.bounds[index + 1]]

    def bodies(self) -> list[bytes]:
        data, b = self.data, self.bounds
        return [data[b[i] : b[i + 1]] for i in range(len(b) - 1)]


def read_header(buf: bytes) -> tuple[dict[str, bytes], bytes, int]:
    """(metadata, sync marker, position of the first block)."""
    if buf[:4] != MAGIC:
        raise OcfError("not an Avro object container file (bad magic)")
    meta: dict[str, bytes] = {}
    pos = 4
    while True:
        count, pos = read_long(buf, pos)
        if count == 0:
            break
        if count < 0:  # a negative count is followed by the block's byte size
            count = -count
            _, pos = read_long(buf, pos)
        for _ in range(count):
            key, pos = _read_bytes(buf, pos)
            value, pos = _read_bytes(buf, pos)
            try:
                meta[key.decode()] = value
            except UnicodeDecodeError:
                raise OcfError("metadata key is not UTF-8") from None
    sync = buf[pos : pos + SYNC_SIZE]
    if len(sync) != SYNC_SIZE:
        raise OcfError("truncated header (no sync marker)")
    return meta, sync, pos + SYNC_SIZE


def read_ocf(buf: bytes) -> OcfContents:
    """Parse a container written by :func:`write_ocf` back into raw record bodies.

    Checks every block's sync marker, that block counts and sizes agree with the stored
    record lengths, and that nothing follows the last block.
    """
    meta, sync, pos = read_header(buf)
    try:
        codec = meta.get("avro.codec", b"null").decode()
        schema_json = meta["avro.schema"].decode()
    except (KeyError, UnicodeDecodeError):
        raise OcfError("header lacks a readable avro.schema/avro.codec") from None
    if LENGTHS_KEY not in meta:
        raise OcfError(f"header lacks {LENGTHS_KEY}")
    lengths = decode_lengths(meta[LENGTHS_KEY])
    bounds = list(accumulate(lengths, initial=0))
    decompress = _decompressor(codec)
    chunks: list[bytes] = []
    seen = 0
    end = len(buf)
    while pos < end:
        count, pos = read_long(buf, pos)
        size, pos = read_long(buf, pos)
        if count <= 0 or size < 0 or pos + size + SYNC_SIZE > end:
            raise OcfError(f"bad block header at byte {pos}")
        try:
            raw = decompress(buf[pos : pos + size])
        except Exception as exc:  # zlib.error, zstd.ZstdError: corrupt compressed data
            raise OcfError(f"block at byte {pos} does not decompress: {exc}") from None
        pos += size
        if buf[pos : pos + SYNC_SIZE] != sync:
            raise OcfError(f"sync marker mismatch after block ending at byte {pos}")
        pos += SYNC_SIZE
        if seen + count > len(lengths) or bounds[seen + count] - bounds[seen] != len(raw):
            raise OcfError(f"block of {count} records at byte {pos} disagrees with record lengths")
        chunks.append(raw)
        seen += count
    if seen != len(lengths):
        raise OcfError(f"blocks hold {seen} records but the header lists {len(lengths)}")
    return OcfContents(schema_json, codec, meta, b"".join(chunks), bounds)
