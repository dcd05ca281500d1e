"""The windowed evaluators, each a pure function over one group's plain-dict state.

State is JSON all the way down (lists, dicts with string keys, ints, floats, strings) so a
faust table can hold it. Timestamps are integer microseconds since the epoch.

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
  A late event (within the lateness) is judged against values seen before it in event time; a
  value that arrived earlier but is later in event time is not judged again (known limit).
"""

from __future__ import annotations

from typing import Any

State = dict[str, Any]
MAX_DISTINCT = 1000
MAX_MATCHES = 64  # per position of a temporal_ordered sequence


def slot_count(state: State, ts: int, width: int, slots: int, value: str | None) -> tuple[int, int]:
    """Add one match at ``ts``; return (count or distinct values in the window, window start).

    ``value`` None counts events; a string counts distinct values (value_count).
    """
    now = ts // width
    table: list[list[Any]] = state.setdefault("slots", [])
    newest = max([now, *(s[0] for s in table)])
    table[:] = [s for s in table if s[0] > newest - slots]
    for entry in table:
        if entry[0] == now:
            break
    else:
        entry = [now, [] if value is not None else 0]
        table.append(entry)
        table.sort(key=lambda s: s[0])
    if value is None:
        entry[1] += 1
    elif value not in entry[1] and len(entry[1]) < MAX_DISTINCT:
        entry[1].append(value)
    window = [s for s in table if now - slots < s[0] <= now]
    start = window[0][0] * width
    if value is None:
        return sum(s[1] for s in window), start
    return len({v for s in window for v in s[1]}), start


def temporal(state: State, ref: str, ts: int, span: int, count: int) -> tuple[int, int, int]:
    """Record ``ref`` at ``ts``; return (rules seen within span, their summed counts, start).

    "Within span" is relative to the newest match, so a late match (within the engine's
    allowed lateness) joins the ones that arrived before it.
    """
    seen: dict[str, list[int]] = state.setdefault("seen", {})
    prev = seen.get(ref)
    if prev is None or ts >= prev[0]:
        seen[ref] = [ts, count]
    newest = max(v[0] for v in seen.values())
    live = {r: v for r, v in seen.items() if v[0] >= newest - span}
    state["seen"] = live
    start = min(v[0] for v in live.values())
    return len(live), sum(v[1] for v in live.values()), start


def temporal_ordered(
    state: State, positions: list[int], length: int, ts: int, span: int, count: int
) -> tuple[int, int] | None:
    """A match of the rule at ``positions`` of the sequence; (start, count) when complete.

    The latest ``MAX_MATCHES`` matches per position within ``span`` of the newest are kept, so
    a sequence is found in event-time order whatever order its matches arrived in (within the
    engine's allowed lateness). Each match has an arrival number, which orders matches with
    equal times and keeps one match from filling two positions. A completed sequence (the one
    with the latest start) clears the state.
    """
    seq: list[list[list[int]]] = state.setdefault("seq", [[] for _ in range(length)])
    n = int(state.get("n", 0)) + 1
    state["n"] = n
    for i in positions:
        seq[i].append([ts, n, count])
        seq[i].sort()
    newest = max(m[0] for matches in seq for m in matches)
    for matches in seq:
        matches[:] = [m for m in matches if m[0] >= newest - span][-MAX_MATCHES:]
    for first in reversed(seq[0]):
        chain = [first]
        for matches in seq[1:]:
            nxt = next((m for m in matches if m[:2] > chain[-1][:2]), None)
            if nxt is None:
                break
            chain.append(nxt)
        if len(chain) == length and chain[-1][0] - first[0] <= span:
            state["seq"] = [[] for _ in range(length)]
            return int(first[0]), sum(int(m[2]) for m in chain)
    return None


def spike(
    state: State, ts: int, width: int, values: list[float], baseline: int
) -> tuple[int, list[float], list[float], int] | None:
    """Add ``values`` (one per measure) to the tumbling window of ``ts``.

    Returns (window start, window totals, baseline means, windows of history), or None when the
    event belongs to a window that is already closed for this group.
    """
    start = ts - ts % width
    current = state.get("ws")
    if current is None:
        state["ws"], state["cur"], state["hist"], state["first"] = (
            start,
            [0.0] * len(values),
            [],
            start,
        )
    elif start > current:
        hist: list[list[Any]] = state["hist"]
        hist.append([current, state["cur"]])
        hist[:] = [h for h in hist if h[0] >= start - baseline * width]
        state["ws"], state["cur"] = start, [0.0] * len(values)
    elif start < current:
        return None
    cur: list[float] = state["cur"]
    for i, v in enumerate(values):
        cur[i] += v
    past = [h for h in state["hist"] if h[0] >= start - baseline * width]
    history = min(baseline, (start - int(state["first"])) // width)
    means = [sum(h[1][i] for h in past) / max(1, history) for i in range(len(values))]
    return start, list(cur), means, history


def new_value(state: State, value: str, ts: int, history: int, max_values: int) -> bool:
    """Record ``value`` at ``ts``; True when it is new for a group that already has history."""
    seen: dict[str, int] = state.setdefault("values", {})
    for old in [v for v, last in seen.items() if last < ts - history]:
        del seen[old]
    # history means values seen before ``ts`` in event time (a late event may precede them)
    had_history = bool(seen) and min(seen.values()) <= ts
    is_new = value not in seen
    seen[value] = max(ts, seen.get(value, ts))
    if len(seen) > max_values:
        del seen[min(seen, key=lambda v: seen[v])]
    return is_new and had_history
