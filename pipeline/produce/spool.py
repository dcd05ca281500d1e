"""An append-only on-disk spool for events the broker did not take.

Written by hand: it is ~150 lines, must hold already-serialized Kafka records (topic, key,
value) with a checksum, and must hand them back segment by segment so a segment is deleted only
after every record in it was delivered again. No well-kept library does exactly that.

Layout: ``<dir>/<seq>.seg`` files (a record that can never be sent is set aside in
``<seq>.refused``, same format, never replayed); each record is ``>III`` (topic length, key
length or 0xFFFFFFFF for none, value length), CRC-32 of the three parts, then the parts. A torn
record at the end of a segment (a crash mid-write) is ignored; a record with a bad CRC stops
reading that segment and is reported.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">IIII")
_NO_KEY = 0xFFFFFFFF


@dataclass(frozen=True)
class SpooledRecord:
    topic: str
    key: bytes | None
    value: bytes


class Spool:
    """Thread-safe append-only spool of records in numbered segment files."""

    def __init__(self, directory: Path, fsync_interval_s: float = 0.2) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._fsync_interval = fsync_interval_s
        self._lock = threading.Lock()
        self._fh: BinaryIO | None = None
        self._current: Path | None = None
        self._last_fsync = 0.0
        self._count = sum(1 for _ in self._iter_all_records())

    def __len__(self) -> int:
        return self._count

    def _next_path(self) -> Path:
        existing = [int(p.stem) for p in self.dir.glob("*.seg") if p.stem.isdigit()]
        return self.dir / f"{max(existing, default=0) + 1:012d}.seg"

    def append(self, record: SpooledRecord) -> None:
        blob = _blob(record)
        with self._lock:
            if self._fh is None:
                self._current = self._next_path()
                self._fh = self._current.open("ab")
            self._fh.write(blob)
            self._fh.flush()
            now = time.monotonic()
            if now - self._last_fsync >= self._fsync_interval:
                os.fsync(self._fh.fileno())
                self._last_fsync = now
            self._count += 1

    def seal(self) -> None:
        """Close the segment being written so that it can be replayed."""
        with self._lock:
            self._seal_locked()

    def _seal_locked(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            self._current = None

    def segments(self) -> list[Path]:
        """Sealed segments, oldest first (the one being written is not included)."""
        with self._lock:
            current = self._current
        return sorted(p for p in self.dir.glob("*.seg") if p != current)

    def read_segment(self, path: Path) -> tuple[list[SpooledRecord], bool]:
        """The segment's records and whether it was read to its end without corruption."""
        records: list[SpooledRecord] = []
        intact = _read_into(path, records)
        return records, intact

    def remove_segment(self, path: Path, records: int, *, intact: bool = True) -> None:
        """Drop a replayed segment; a corrupt one is renamed ``.corrupt`` for inspection."""
        with self._lock:
            if intact:
                path.unlink(missing_ok=True)
            else:
                path.rename(path.with_suffix(".corrupt"))
            self._count = max(0, self._count - records)

    def set_aside(self, segment: Path, records: list[SpooledRecord]) -> Path:
        """Keep ``records`` of ``segment`` in ``<seq>.refused`` (appended, fsynced), out of the
        replay: records that can never be sent, kept for an operator. Returns that file."""
        path = segment.with_suffix(".refused")
        with self._lock, path.open("ab") as fh:
            for record in records:
                fh.write(_blob(record))
            fh.flush()
            os.fsync(fh.fileno())
        return path

    def close(self) -> None:
        self.seal()

    def _iter_all_records(self) -> Iterator[SpooledRecord]:
        for path in sorted(self.dir.glob("*.seg")):
            records: list[SpooledRecord] = []
            _read_into(path, records)
            yield from records


def _blob(record: SpooledRecord) -> bytes:
    topic = record.topic.encode()
    key = record.key
    key_len = _NO_KEY if key is None else len(key)
    crc = zlib.crc32(topic)
    crc = zlib.crc32(key or b"", crc)
    crc = zlib.crc32(record.value, crc)
    head = _HEADER.pack(len(topic), key_len, len(record.value), crc)
    return head + topic + (key or b"") + record.value


def _read_into(path: Path, out: list[SpooledRecord]) -> bool:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return True
    pos = 0
    while pos + _HEADER.size <= len(data):
        t_len, k_len, v_len, crc = _HEADER.unpack_from(data, pos)
        body = pos + _HEADER.size
        key_bytes = 0 if k_len == _NO_KEY else k_len
        end = body + t_len + key_bytes + v_len
        if end > len(data):
            log.warning("torn record at the end of a spool segment", extra={"segment": str(path)})
            return True
        topic = data[body : body + t_len]
        key = None if k_len == _NO_KEY else data[body + t_len : body + t_len + k_len]
        value = data[body + t_len + key_bytes : end]
        check = zlib.crc32(value, zlib.crc32(key or b"", zlib.crc32(topic)))
        if check != crc:
            log.error(
                "corrupt record in spool segment; the rest of it is kept for inspection",
                extra={"segment": str(path), "position": pos},
            )
            return False
        out.append(SpooledRecord(topic.decode(), key, value))
        pos = end
    return True
