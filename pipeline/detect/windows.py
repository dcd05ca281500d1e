"""The windowed evaluators, each a pure function over one group's :class:`GroupState` and the
window it keeps (:mod:`pipeline.detect.state`, which encodes it for the changelog).
Timestamps are integer microseconds since the epoch.

Windows (event time):

* ``event_count`` / ``value_count``: sliding windows of ``timespan`` made of ``slots`` equal
  sub-windows (default 10): the count covers the current sub-window and the ones before it,
  ``timespan`` in total, so the window slides in steps of timespan/slots and a burst that
  straddles a boundary of a fixed grid is still seen whole.
* ``temporal``: every referenced rule has matched within ``timespan`` (last match per rule).
* ``temporal_ordered``: the referenced rules matched in event-time order within ``timespan``;
  recent matches per position are kept, so late arrivals (within the lateness) still complete
  a sequence.
* spike: tumbling windows of ``timespan`` (a baseline compares like with like): the current
  window's value against the mean of the past ``baseline`` windows (empty ones count as 0;
  a group seen for fewer windows is averaged over those, and one with none has baseline 0).
* new value: the values seen per group with their last-seen time, forgotten after ``history``.
  A late event (within the lateness) is judged against values seen before it in event time;
  a value first seen with no history before it is kept as *pending* until the lateness has
  passed, and judged again when a late event brings earlier history (it is new after all).
"""

from __future__ import annotations

from pipeline.detect.state import (
    CountSlot,
    GroupState,
    Match,
    Sample,
    SequenceWindow,
    SlidingCount,
    SpikeWindow,
    TemporalWindow,
    ValueHistory,
)

MAX_DISTINCT = 1000
MAX_MATCHES = 64  # per position of a temporal_ordered sequence


def slot_count(
    state: GroupState, ts: int, width: int, slots: int, value: str | None
) -> tuple[int, int]:
    """Add one match at ``ts``; return (count or distinct values in the window, window start).

    ``value`` None counts events; a string counts distinct values (value_count).
    """
    window = state.window_of(SlidingCount)
    if window is None:
        window = state.window = SlidingCount()
    now = ts // width
    table = window.slots
    newest = max([now, *(s.index for s in table)])
    table[:] = [s for s in table if s.index > newest - slots]
    for entry in table:
        if entry.index == now:
            break
    else:
        entry = CountSlot(now, values=[] if value is not None else None)
        table.append(entry)
        table.sort(key=lambda s: s.index)
    if value is None:
        entry.count += 1
    elif (
        entry.values is not None and value not in entry.values and len(entry.values) < MAX_DISTINCT
    ):
        entry.values.append(value)
    current = [s for s in table if now - slots < s.index <= now]
    start = current[0].index * width
    if value is None:
        return sum(s.count for s in current), start
    return len({v for s in current for v in s.values or ()}), start


def temporal(state: GroupState, ref: str, ts: int, span: int, count: int) -> tuple[int, int, int]:
    """Record ``ref`` at ``ts``; return (rules seen within span, their summed counts, start).

    "Within span" is relative to the newest match, so a late match (within the engine's
    allowed lateness) joins the ones that arrived before it.
    """
    window = state.window_of(TemporalWindow)
    if window is None:
        window = state.window = TemporalWindow()
    seen = window.seen
    prev = seen.get(ref)
    if prev is None or ts >= prev[0]:
        seen[ref] = (ts, count)
    newest = max(v[0] for v in seen.values())
    live = {r: v for r, v in seen.items() if v[0] >= newest - span}
    window.seen = live
    start = min(v[0] for v in live.values())
    return len(live), sum(v[1] for v in live.values()), start


def temporal_ordered(
    state: GroupState, *, positions: list[int], length: int, ts: int, span: int, count: int
) -> tuple[int, int] | None:
    """A match of the rule at ``positions`` of the sequence; (start, count) when complete.

    The latest ``MAX_MATCHES`` matches per position within ``span`` of the newest are kept, so
    a sequence is found in event-time order whatever order its matches arrived in (within the
    engine's allowed lateness). Each match has an arrival number, which orders matches with
    equal times and keeps one match from filling two positions. A completed sequence (the one
    with the latest start) clears the state.
    """
    window = state.window_of(SequenceWindow)
    if window is None:
        window = state.window = SequenceWindow([[] for _ in range(length)])
    seq = window.matches
    window.n += 1
    n = window.n
    for i in positions:
        seq[i].append((ts, n, count))
        seq[i].sort()
    newest = max(m[0] for matches in seq for m in matches)
    for matches in seq:
        matches[:] = [m for m in matches if m[0] >= newest - span][-MAX_MATCHES:]
    for first in reversed(seq[0]):
        chain: list[Match] = [first]
        for matches in seq[1:]:
            nxt = next((m for m in matches if m[:2] > chain[-1][:2]), None)
            if nxt is None:
                break
            chain.append(nxt)
        if len(chain) == length and chain[-1][0] - first[0] <= span:
            window.matches = [[] for _ in range(length)]
            return first[0], sum(m[2] for m in chain)
    return None


def spike(
    state: GroupState, ts: int, width: int, values: list[float], baseline: int
) -> tuple[int, list[float], list[float], int] | None:
    """Add ``values`` (one per measure) to the tumbling window of ``ts``.

    Returns (window start, window totals, baseline means, windows of history), or None when the
    event belongs to a window that is already closed for this group.
    """
    start = ts - ts % width
    window = state.window_of(SpikeWindow)
    if window is None:
        window = state.window = SpikeWindow(start, [0.0] * len(values), [], start)
    elif start > window.ws:
        hist = window.hist
        hist.append((window.ws, window.cur))
        hist[:] = [h for h in hist if h[0] >= start - baseline * width]
        window.ws, window.cur = start, [0.0] * len(values)
    elif start < window.ws:
        return None
    cur = window.cur
    for i, v in enumerate(values):
        cur[i] += v
    past = [h for h in window.hist if h[0] >= start - baseline * width]
    history = min(baseline, (start - window.first) // width)
    means = [sum(h[1][i] for h in past) / max(1, history) for i in range(len(values))]
    return start, list(cur), means, history


def new_value(
    state: GroupState,
    value: str,
    ts: int,
    history: int,
    max_values: int,
    *,
    sample: Sample,
    horizon: int,
) -> list[tuple[str, int, Sample]]:
    """Record ``value`` at ``ts`` (the event's ``sample``); the values that are new for a group
    with history, each with the time and sample of the event that first carried it: this
    event's value, and pending values this event precedes (their history arrived late).
    ``horizon``: the watermark minus the lateness; pending values before it are settled."""
    window = state.window_of(ValueHistory)
    if window is None:
        window = state.window = ValueHistory()
    seen = window.values
    for old in [v for v, last in seen.items() if last < ts - history]:
        del seen[old]
    # history means values seen before ``ts`` in event time (a late event may precede them)
    had_history = bool(seen) and min(seen.values()) <= ts
    is_new = value not in seen
    seen[value] = max(ts, seen.get(value, ts))
    if len(seen) > max_values:
        del seen[min(seen, key=lambda v: seen[v])]
    found: list[tuple[str, int, Sample]] = []
    pending = window.pending
    if pending:
        for old, (first, old_sample) in list(pending.items()):
            if first < horizon:
                del pending[old]  # no event before it can arrive any more
            elif ts < first and old != value:
                del pending[old]
                found.append((old, first, old_sample))
    if is_new:
        if had_history:
            found.append((value, ts, sample))
        elif ts >= horizon:
            pending = pending if pending is not None else {}
            pending[value] = (ts, sample)
    window.pending = pending or None
    return found
