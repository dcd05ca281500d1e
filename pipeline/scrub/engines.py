"""Scan engines: which detector triggers fire in which of an event's strings.

One call per event: the strings are joined with NUL bytes and scanned in one pass, and each
match end is mapped back to its string. A trigger match that crosses a NUL only costs a
needless precise check; it can never hide a finding (each string is also scanned whole).

Measured on this machine (``benchmarks/scrub.py``, ~1 KB generated events, one core):
Hyperscan is the fastest and the default; RE2's ``Set`` says *which* triggers fired but not
*where*, so every string is checked for them; Python ``re`` is the fallback when neither
library can be imported. ``engine: auto`` picks the first that imports.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any, Protocol

from pipeline.errors import ConfigError
from pipeline.scrub.detectors import Detector

ENGINES = ("auto", "hyperscan", "re2", "re")


class Scanner(Protocol):
    name: str

    def scan(self, texts: Sequence[str]) -> set[tuple[int, int]]:
        """``(text index, detector index)`` for every trigger that fired."""
        ...


class HyperscanScanner:
    name = "hyperscan"

    def __init__(self, detectors: Sequence[Detector]) -> None:
        import hyperscan

        self._db: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        exprs = [d.trigger.encode() for d in detectors]
        self._db.compile(
            expressions=exprs,
            ids=list(range(len(exprs))),
            elements=len(exprs),
            flags=[0] * len(exprs),
        )

    def scan(self, texts: Sequence[str]) -> set[tuple[int, int]]:
        joined = "\0".join(texts)
        ends: list[int] = []
        pos = 0
        if joined.isascii():  # the common case: byte offsets are character offsets
            data = joined.encode("ascii")
            for text in texts:
                pos += len(text)
                ends.append(pos)
                pos += 1
        else:
            encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
            data = b"\0".join(encoded)
            for chunk in encoded:
                pos += len(chunk)
                ends.append(pos)
                pos += 1
        hits: set[tuple[int, int]] = set()
        add = hits.add
        left = bisect.bisect_left

        def on_match(det: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add((left(ends, end), det))

        self._db.scan(data, match_event_handler=on_match)
        return hits


class Re2Scanner:
    name = "re2"

    def __init__(self, detectors: Sequence[Detector]) -> None:
        import re2  # type: ignore[import-untyped]

        self._set: Any = re2.Set.SearchSet(re2.Options())
        for d in detectors:
            self._set.Add(d.trigger)
        self._set.Compile()

    def scan(self, texts: Sequence[str]) -> set[tuple[int, int]]:
        fired = self._set.Match("\0".join(texts))
        if not fired:
            return set()
        return {(i, d) for d in fired for i in range(len(texts))}


class ReScanner:
    """Pure Python fallback: each trigger searched in each string (ASCII classes)."""

    name = "re"

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._triggers = [re.compile(d.trigger, re.ASCII) for d in detectors]

    def scan(self, texts: Sequence[str]) -> set[tuple[int, int]]:
        return {
            (i, d)
            for i, text in enumerate(texts)
            for d, trig in enumerate(self._triggers)
            if trig.search(text)
        }


_BUILDERS: dict[str, type[HyperscanScanner] | type[Re2Scanner] | type[ReScanner]] = {
    "hyperscan": HyperscanScanner,
    "re2": Re2Scanner,
    "re": ReScanner,
}


def build_scanner(engine: str, detectors: Sequence[Detector]) -> Scanner:
    """The named engine, or for ``auto`` the fastest one that imports."""
    if engine == "auto":
        for name in ("hyperscan", "re2"):
            try:
                return _BUILDERS[name](detectors)
            except ImportError:
                continue
        return ReScanner(detectors)
    if engine not in _BUILDERS:
        raise ConfigError(f"unknown scan engine {engine!r} (known: {', '.join(ENGINES)})")
    try:
        return _BUILDERS[engine](detectors)
    except ImportError as exc:
        raise ConfigError(f"scan engine {engine!r} is not installed: {exc}") from None
