"""What a replay produces: the events it emits (a sink) and the counts it reports (``Stats``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

import orjson


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an emitted event was read: a Kafka record as it is (key, value, headers), or an
    archived one (value rebuilt in the wire format, no key or headers archived)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, str | bytes | None]] | None = None


class Sink(Protocol):
    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        """Emit one event in its JSON form (``origin``: the record it was read from)."""
        ...

    def close(self) -> None: ...


class JsonlSink:
    """JSON Lines, one event per line, to a binary stream (a file or stdout)."""

    def __init__(self, stream: BinaryIO, *, close_stream: bool = False) -> None:
        self._stream = stream
        self._close_stream = close_stream

    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        self._stream.write(orjson.dumps(doc) + b"\n")

    def close(self) -> None:
        self._stream.flush()
        if self._close_stream:
            self._stream.close()


class ListSink:
    """Collects events in memory (tests and ``trace``, whose results are small)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def write(self, doc: dict[str, Any], origin: Origin | None = None) -> None:
        self.events.append(doc)

    def close(self) -> None:
        pass


@dataclass
class Stats:
    """Counts of one replay; ``total`` is the number of records to scan when known."""

    scanned: int = 0
    matched: int = 0
    undecodable: int = 0
    total: int | None = None
    started: float = field(default_factory=time.monotonic)
    # archive replays
    listed: int = 0  # keys listed
    manifests: int = 0  # manifests fetched
    batches: int = 0  # batch objects fetched (each verified before any of it is emitted)
    refused: list[str] = field(default_factory=list)  # failing batches not emitted
    unverified: list[str] = field(default_factory=list)  # failing batches emitted, marked
    switched: str | None = None  # why the other region was read instead

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        s = self.seconds
        return self.scanned / s if s > 0 else 0.0

    def summary(self) -> str:
        text = (
            f"matched {self.matched:,} of {self.scanned:,} events scanned in "
            f"{self.seconds:.1f} s ({self.rate:,.0f} events/s)"
        )
        if self.undecodable:
            text += f", {self.undecodable:,} undecodable"
        if self.listed or self.batches:
            text += (
                f"; archive: {self.listed:,} objects listed, {self.manifests:,} manifests and "
                f"{self.batches:,} batches fetched"
            )
        if self.switched:
            text += f"; {self.switched}"
        if self.refused:
            text += f"; {len(self.refused)} batches REFUSED"
        if self.unverified:
            text += f"; {len(self.unverified)} unverified batches emitted (marked)"
        return text


Progress = Callable[[Stats], None]
