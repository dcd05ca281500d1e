"""The detector's state, typed: one :class:`GroupState` per (rule, group), holding the group's
open :class:`Incident` and the window its rule keeps.

Each type encodes to the JSON record the changelog holds (``encode``) and reads it back strictly
(``decode``, a :class:`~pipeline.errors.StateRecordError` naming the field when it does not
fit). The records are the ones the detector wrote when its state was plain dicts, key for key::

    {"group": {...}, "last": µs,
     "inc": {...},                        # an open incident (alerting rules)
     "samples": [[event_id, request_id, trace_id], ...],   # correlations and spikes
     # and at most one window:
     "slots": [[slot, count | [values]], ...]              # event_count / value_count
     "seen": {rule: [ts, count]}                           # temporal
     "seq": [[[ts, arrival, count], ...], ...], "n": arrivals   # temporal_ordered
     "ws": µs, "cur": [totals], "hist": [[µs, [totals]]], "first": µs   # spike
     "values": {value: last seen µs},                      # new value
     "pending": {value: [first seen µs, [event_id, request_id, trace_id]]}}  # (optional)

An encoded record shares the state's immutable tuples (samples, matches) rather than copying
them into lists: JSON serializes a tuple as an array. Nothing here knows Kafka: the streaming
stage writes the encoded form to its changelog, the offline engine keeps the objects in a dict.
Timestamps are integer microseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.errors import StateRecordError
from pipeline.records import (
    Fields,
    Record,
    as_float,
    as_int,
    as_list,
    as_str,
    as_tuple,
)

#: (event_id, request_id, trace_id or "") of a sample event; a list of three in the record
Sample = tuple[str, str, str]
#: (event time, arrival number, count) of a match in a temporal_ordered sequence
Match = tuple[int, int, int]


def _sample(value: object, path: str) -> Sample:
    a, b, c = as_tuple(value, path, 3)
    return as_str(a, path), as_str(b, path), as_str(c, path)


def _match(value: object, path: str) -> Match:
    a, b, c = as_tuple(value, path, 3)
    return as_int(a, path), as_int(b, path), as_int(c, path)


def _floats(value: object, path: str) -> list[float]:
    return as_list(value, path, as_float)


def encode_samples(samples: list[Sample]) -> list[Sample]:
    return list(samples)  # the tuples are immutable: shared, and serialized as arrays


@dataclass(slots=True, kw_only=True)
class Incident:
    """A rule's open incident for a group and window: what its alerts (revision ``rev``) say,
    and what was last sent (``sent`` count at event time ``sent_at``)."""

    start: int
    end: int
    count: int
    first: int
    last: int
    samples: list[Sample]
    service: str | None
    details: dict[str, str]
    rev: int
    sent: int
    sent_at: int

    def encode(self) -> Record:
        return {
            "start": self.start,
            "end": self.end,
            "count": self.count,
            "first": self.first,
            "last": self.last,
            "samples": encode_samples(self.samples),
            "service": self.service,
            "details": dict(self.details),
            "rev": self.rev,
            "sent": self.sent,
            "sent_at": self.sent_at,
        }

    @classmethod
    def decode(cls, doc: object) -> Incident:
        f = Fields(doc, "Incident")
        return cls(
            start=f.integer("start"),
            end=f.integer("end"),
            count=f.integer("count"),
            first=f.integer("first"),
            last=f.integer("last"),
            samples=f.items("samples", _sample),
            service=f.opt_text("service"),
            details=f.mapping("details", as_str),
            rev=f.integer("rev"),
            sent=f.integer("sent"),
            sent_at=f.integer("sent_at"),
        )


# --- windows ------------------------------------------------------------------------------


@dataclass(slots=True)
class CountSlot:
    """One sub-window (``index`` = start // width) of a sliding count: the events counted, or
    for value_count the distinct values seen (``values`` set)."""

    index: int
    count: int = 0
    values: list[str] | None = None


@dataclass(slots=True)
class SlidingCount:
    """event_count / value_count: the sub-windows still inside the window, oldest first."""

    slots: list[CountSlot] = field(default_factory=list)

    def encode(self) -> Record:
        return {
            "slots": [
                [s.index, s.count if s.values is None else list(s.values)] for s in self.slots
            ]
        }

    @classmethod
    def decode(cls, f: Fields) -> SlidingCount:
        return cls(f.items("slots", _count_slot))


def _count_slot(value: object, path: str) -> CountSlot:
    index, measure = as_tuple(value, path, 2)
    if isinstance(measure, list):
        return CountSlot(as_int(index, path), values=as_list(measure, path, as_str))
    return CountSlot(as_int(index, path), as_int(measure, path))


@dataclass(slots=True)
class TemporalWindow:
    """temporal: the last match of each referenced rule, (event time, count)."""

    seen: dict[str, tuple[int, int]] = field(default_factory=dict)

    def encode(self) -> Record:
        return {"seen": dict(self.seen)}

    @classmethod
    def decode(cls, f: Fields) -> TemporalWindow:
        return cls(f.mapping("seen", _seen))


def _seen(value: object, path: str) -> tuple[int, int]:
    ts, count = as_tuple(value, path, 2)
    return as_int(ts, path), as_int(count, path)


@dataclass(slots=True)
class SequenceWindow:
    """temporal_ordered: recent matches per position of the sequence (sorted), and the number
    of matches that arrived so far (``n``, which numbers them)."""

    matches: list[list[Match]]
    n: int = 0

    def encode(self) -> Record:
        return {"seq": [list(pos) for pos in self.matches], "n": self.n}

    @classmethod
    def decode(cls, f: Fields) -> SequenceWindow:
        matches = f.items("seq", lambda v, p: as_list(v, p, _match))
        return cls(matches, f.integer("n") if f.has("n") else 0)


@dataclass(slots=True)
class SpikeWindow:
    """spike: the tumbling window starting at ``ws`` (its totals per measure, ``cur``), the
    closed windows of the baseline (``hist``), and the first window the group was seen in."""

    ws: int
    cur: list[float]
    hist: list[tuple[int, list[float]]]
    first: int

    def encode(self) -> Record:
        return {
            "ws": self.ws,
            "cur": list(self.cur),
            "hist": [[start, list(totals)] for start, totals in self.hist],
            "first": self.first,
        }

    @classmethod
    def decode(cls, f: Fields) -> SpikeWindow:
        return cls(
            ws=f.integer("ws"),
            cur=f.items("cur", as_float),
            hist=f.items("hist", _past),
            first=f.integer("first"),
        )


def _past(value: object, path: str) -> tuple[int, list[float]]:
    start, totals = as_tuple(value, path, 2)
    return as_int(start, path), _floats(totals, path)


@dataclass(slots=True)
class ValueHistory:
    """new value: the values seen with the event time each was last seen; ``pending``: values
    first seen with no history before them in event time, with that time and the sample of
    the event, until the allowed lateness has passed (a late event that precedes one makes it
    a new value after all). Empty for a group with history, so it costs nothing there."""

    values: dict[str, int] = field(default_factory=dict)
    #: None when empty: most groups never have one (an empty dict per group costs 64 bytes)
    pending: dict[str, tuple[int, Sample]] | None = None

    def encode(self) -> Record:
        doc: Record = {"values": dict(self.values)}
        if self.pending:
            doc["pending"] = {v: [ts, sample] for v, (ts, sample) in self.pending.items()}
        return doc

    @classmethod
    def decode(cls, f: Fields) -> ValueHistory:
        pending = f.mapping("pending", _pending) if f.has("pending") else None
        return cls(f.mapping("values", as_int), pending or None)


def _pending(value: object, path: str) -> tuple[int, Sample]:
    ts, sample = as_tuple(value, path, 2)
    return as_int(ts, path), _sample(sample, path)


Window = SlidingCount | TemporalWindow | SequenceWindow | SpikeWindow | ValueHistory
#: the key that marks each window in a record
_WINDOW_KEYS: dict[str, type[Window]] = {
    "slots": SlidingCount,
    "seen": TemporalWindow,
    "seq": SequenceWindow,
    "ws": SpikeWindow,
    "values": ValueHistory,
}
W = TypeVar("W", SlidingCount, TemporalWindow, SequenceWindow, SpikeWindow, ValueHistory)


# --- a group's state ----------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class GroupState:
    """Everything the engine keeps for one rule and group; ``last`` is the event time it was
    last used (for expiry); ``samples`` the recent samples of a correlation or spike."""

    group: dict[str, str]
    last: int = 0
    inc: Incident | None = None
    samples: list[Sample] | None = None
    window: Window | None = None

    def window_of(self, kind: type[W]) -> W | None:
        """The group's window, which must be a ``kind`` (None when it has none yet)."""
        window = self.window
        if window is None or isinstance(window, kind):
            return window
        raise StateRecordError(
            f"GroupState.window: expected {kind.__name__}, got {type(window).__name__}"
        )

    def encode(self) -> Record:
        doc: Record = {"group": dict(self.group), "last": self.last}
        if self.inc is not None:
            doc["inc"] = self.inc.encode()
        if self.samples is not None:
            doc["samples"] = encode_samples(self.samples)
        if self.window is not None:
            doc.update(self.window.encode())
        return doc

    @classmethod
    def decode(cls, doc: object) -> GroupState:
        f = Fields(doc, "GroupState")
        kinds = [kind for key, kind in _WINDOW_KEYS.items() if key in f.doc]
        if len(kinds) > 1:
            names = ", ".join(k.__name__ for k in kinds)
            raise StateRecordError(f"GroupState: more than one window ({names})")
        inc = f.doc.get("inc")
        return cls(
            group=f.mapping("group", as_str),
            last=f.integer("last"),
            inc=None if inc is None else Incident.decode(inc),
            samples=f.items("samples", _sample) if f.has("samples") else None,
            window=kinds[0].decode(f) if kinds else None,
        )
