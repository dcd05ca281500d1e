"""The windowed evaluators, each a pure function over one group's plain-dict state.

State is JSON all the way down (lists, dicts with string keys, ints, floats, strings) so a
faust table can hold it. Timestamps are integer microseconds since the epoch.

Windows (event time):

* ``event_count`` / ``value_count``: sliding windows of ``timespan`` made of ``slots`` equal
  sub-windows (default 10): the count covers the current sub-window and the ones before it,
  ``timespan`` in total, so the window slides in steps of timespan/slots and a burst that
  straddles a boundary of a fixed grid is still seen whole.
* ``temporal``: every referenced rule has matched within ``timespan`` (last match per rule).
* ``temporal_ordered``: the referenced rules matched in order within ``timespan``; per prefix of
  the sequence the latest possible start is kept, which finds a match whenever one exists for
  in-order input.
* spike: tumbling windows of ``timespan`` (a baseline compares like with like): the current
  window's value against the mean of the past ``baseline`` windows (empty ones count as 0;
  a group seen for fewer windows is averaged over those, and one with none has baseline 0).
* new value: the values seen per group with their last-seen time, forgotten after ``history``.
"""

from __future__ import annotations

from typing import Any

State = dict[str, Any]
MAX_DISTINCT = 1000


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
    """Record ``ref`` at ``ts``; return (rules seen within span, their summed counts, start)."""
    seen: dict[str, list[int]] = state.setdefault("seen", {})
    prev = seen.get(ref)
    if prev is None or ts >= prev[0]:
        seen[ref] = [ts, count]
    live = {r: v for r, v in seen.items() if ts - span <= v[0] <= ts}
    state["seen"] = {r: v for r, v in seen.items() if v[0] >= ts - span}
    start = min(v[0] for v in live.values())
    return len(live), sum(v[1] for v in live.values()), start


def temporal_ordered(
    state: State, positions: list[int], length: int, ts: int, span: int, count: int
) -> tuple[int, int] | None:
    """A match of the rule at ``positions`` of the sequence; (start, count) when complete."""
    prefix: list[Any] = state.setdefault("prefix", [None] * length)
    done = None
    for i in sorted(positions, reverse=True):
        if i == 0:
            candidate = [ts, ts, count]
        else:
            prev = prefix[i - 1]
            if prev is None or ts < prev[1] or ts - prev[0] > span:
                continue
            candidate = [prev[0], ts, prev[2] + count]
        current = prefix[i]
        if current is None or candidate[0] >= current[0] or ts - current[0] > span:
            prefix[i] = candidate
        if i == length - 1:
            done = (int(prefix[i][0]), int(prefix[i][2]))
            prefix[:] = [None] * length
    return done


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
    had_history = bool(seen)
    is_new = value not in seen
    seen[value] = max(ts, seen.get(value, ts))
    if len(seen) > max_values:
        del seen[min(seen, key=lambda v: seen[v])]
    return is_new and had_history
