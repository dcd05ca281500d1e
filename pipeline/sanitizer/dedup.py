"""Drop repeated event ids: a window of recent ids per input partition, in bounded memory.

Where: in the sanitizer, per raw partition. A producer's retry (or a service re-sending an
event) writes the same event with the same key, so it lands on the same partition as the
first copy, usually close behind it: a window of the last ``dedup_window`` ids of each
partition catches it. Memory: a 16-byte BLAKE2b digest of the id per entry (the id itself
may be up to ``max_field_bytes``), ``dedup_window`` entries per partition, for at most
``MAX_PARTITIONS`` partitions (the least recently used partition's window goes first):
about 100 bytes an entry with Python's dict overhead, 1 MB per partition at the default.

What it does not catch, by design: a copy further back than the window, a copy on another
partition (another key), and the re-delivery after a crash or a rebalance (the window is the
worker's memory, not state). Those reach ``audit.events`` and are removed downstream by
``event_id`` (DESIGN.md, promise 1); the archive and the detector deduplicate too.
"""

from __future__ import annotations

import hashlib

MAX_PARTITIONS = 1024


class RecentIds:
    def __init__(self, window: int) -> None:
        self.window = window
        self._parts: dict[tuple[str, int], dict[bytes, None]] = {}

    @staticmethod
    def digest(event_id: str) -> bytes:
        return hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def seen(self, topic: str, partition: int, digest: bytes) -> bool:
        part = self._parts.get((topic, partition))
        return part is not None and digest in part

    def add(self, topic: str, partition: int, digest: bytes) -> None:
        if self.window <= 0:
            return
        key = (topic, partition)
        part = self._parts.pop(key, None)
        if part is None:
            part = {}
            while len(self._parts) >= MAX_PARTITIONS:
                del self._parts[next(iter(self._parts))]
        self._parts[key] = part  # most recently used last
        part[digest] = None
        while len(part) > self.window:
            del part[next(iter(part))]
