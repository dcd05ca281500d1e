"""What a detector is: a cheap ``trigger`` for the scan engines, a precise ``pattern`` and an
optional check; what it finds (``Finding``), and how overlapping findings merge (``resolve``).
The detectors themselves live in ``detectors.py`` (personal data), ``secrets.py``,
``national.py`` (national identifiers) and ``context.py`` (values only context marks)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

#: turns a precise match into the spans to treat (none: a look-alike)
Check = Callable[[str, "re.Match[str]"], "list[tuple[int, int]]"]

#: a value that is only our own redaction tag (``[secret]``, ``[email]``) or a row of
#: asterisks holds nothing, so it is left as it is; anything else in brackets is input
#: (``password=[hunter2]``, ``postgres://[admin:secret]@db``) and is treated like any value.
#: A mask tag (``[card:…1111]``) is not trusted either: treating it again gives it back.
TAG = re.compile(r"\[(?:[a-z][a-z0-9]*_)*[a-z][a-z0-9]*\]|\*{3,}", re.ASCII)


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str
    priority: int


@dataclass(frozen=True)
class Detector:
    name: str
    trigger: str
    pattern: re.Pattern[str]
    check: Check | None = None
    secret: bool = False
    priority: int = 50
    ip: bool = False

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        pos = 0
        search = self.pattern.search
        while (m := search(text, pos)) is not None:
            spans = self.check(text, m) if self.check is not None else value_span(m)
            out.extend(Finding(s, e, self.name, self.priority) for s, e in spans if e > s)
            # a check that shrank a greedy candidate (an IBAN followed by more groups) gives
            # the rest of the candidate back, so a second value right after it is seen
            last = max((e for _, e in spans), default=m.end())
            pos = last if m.start() < last < m.end() else max(m.end(), m.start() + 1)
        return out


def value_span(m: re.Match[str]) -> list[tuple[int, int]]:
    """The first named group ``v*`` that took part, else the whole match; a value that is
    only one of our tags (of a known kind) skips."""
    for name, value in m.groupdict().items():
        if name.startswith("v") and value is not None:
            return [] if is_tag(value) else [m.span(name)]
    return [m.span()]


def is_tag(value: str) -> bool:
    """``value`` is a tag the scrubber writes and holds nothing: ``[kind]`` of a known kind
    (``[hunter2]`` is not one), or asterisks."""
    if TAG.fullmatch(value) is None:
        return False
    return value.startswith("*") or value[1:-1] in tag_kinds()


@functools.cache
def tag_kinds() -> frozenset[str]:
    """The kinds our tags name: every detector, and the words of field-level treatments."""
    from pipeline.scrub.detectors import DETECTORS  # the registry imports this module

    return frozenset(DETECTORS) | {"redacted", "masked", "invalid", "ip"}


def compile_ascii(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | flags)


def resolve(findings: list[Finding]) -> list[tuple[int, int, Finding, bool]]:
    """Merge overlapping findings into one span each; the most important kind names it.

    Returns ``(start, end, finding, exact)`` sorted by position; ``exact`` is False when the
    span grew by merging, so a kind-specific treatment (mask, truncate) would not fit it and
    the caller redacts instead (fail closed: ``password=4111 1111 ...`` leaks nothing).
    """
    if not findings:
        return []
    ordered = sorted(findings, key=lambda f: (f.start, -f.end))
    groups: list[tuple[int, int, Finding]] = []
    for f in ordered:
        if groups and f.start < groups[-1][1]:
            start, end, best = groups[-1]
            groups[-1] = (start, max(end, f.end), f if f.priority < best.priority else best)
        else:
            groups.append((f.start, f.end, f))
    return [(s, e, f, (s, e) == (f.start, f.end)) for s, e, f in groups]


def keyword_trigger(words: tuple[str, ...]) -> str:
    """Keywords for the scan engines, case-insensitive without inline flags (``[Cc][Pp][Ff]``),
    not after an ASCII letter (as ``keyword_pattern`` requires: "Intel" holds no "tel"); a
    non-ASCII letter stays a literal (its UTF-8 bytes, for Hyperscan)."""
    return (
        "(?:^|[^A-Za-z])(?:"
        + "|".join(
            "".join(
                f"[{ch.upper()}{ch.lower()}]" if ch.isascii() and ch.isalpha() else re.escape(ch)
                for ch in w
            )
            for w in words
        )
        + ")"
    )


def keyword_pattern(words: tuple[str, ...]) -> str:
    """The keywords as whole words, case-insensitive (for a precise pattern)."""
    return r"(?i:(?<![a-z])(?:" + "|".join(re.escape(w) for w in words) + r")(?![a-z]))"
