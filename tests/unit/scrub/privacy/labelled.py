"""Labelled texts for the privacy accuracy suite, and the measurement: recall per labelled
type, precision per detector kind, look-alikes kept.

A generator builds ``Item``s with ``Text``: it appends plain text, sensitive values (with their
type and group) and benign look-alikes, and the spans are recorded as it goes, so nothing is
labelled by hand. ``measure`` scrubs each item as an event's ``details`` and counts:

* recall of a type: its values no longer appear in the scrubbed event (for secrets, not even
  a 16-character piece of one);
* precision of a detector kind: its findings (``Scrubber.find`` on each value, or the whole
  value when the map key names what it holds) that overlap a labelled value, over all of its
  findings;
* benign kept: a look-alike is still in the scrubbed event, unchanged.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.scrub import Scrubber
from pipeline.scrub.scrubber import key_kind
from tests.unit.scrub.helpers import event, strings

GROUPS = ("secret", "national_id", "context", "benign")


@dataclass(frozen=True)
class Label:
    kind: str
    group: str
    value: str
    field: str
    start: int
    end: int


@dataclass
class Text:
    """One details value under construction."""

    key: str = "note"
    parts: list[str] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    looks: list[Label] = field(default_factory=list)

    def _pos(self) -> int:
        return sum(len(p) for p in self.parts)

    def add(self, text: str) -> Text:
        self.parts.append(text)
        return self

    def value(self, kind: str, group: str, value: str) -> Text:
        start = self._pos()
        self.parts.append(value)
        self.labels.append(Label(kind, group, value, self.key, start, start + len(value)))
        return self

    def lookalike(self, kind: str, value: str) -> Text:
        start = self._pos()
        self.parts.append(value)
        self.looks.append(Label(kind, "benign", value, self.key, start, start + len(value)))
        return self

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class Item:
    texts: list[Text]

    @property
    def details(self) -> dict[str, str]:
        return {t.key: t.text for t in self.texts}


Maker = Callable[[random.Random], Item]


def one(key: str = "note") -> tuple[Item, Text]:
    t = Text(key)
    return Item([t]), t


def items(makers: dict[str, Maker], seed: int, per_kind: int) -> Iterator[Item]:
    rng = random.Random(seed)
    for name in sorted(makers):
        for _ in range(per_kind):
            yield makers[name](rng)


@dataclass
class Counts:
    seen: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    group: dict[str, str] = field(default_factory=dict)
    findings: Counter[str] = field(default_factory=Counter)
    false: Counter[str] = field(default_factory=Counter)
    benign: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    misses: list[tuple[str, str]] = field(default_factory=list)
    false_examples: list[tuple[str, str]] = field(default_factory=list)

    def recall(self, kind: str) -> float:
        return 1 - self.missed[kind] / self.seen[kind]

    def group_recall(self, group: str) -> float:
        kinds = [k for k, g in self.group.items() if g == group]
        seen = sum(self.seen[k] for k in kinds)
        return 1 - sum(self.missed[k] for k in kinds) / seen if seen else 1.0

    def precision(self, kind: str) -> float:
        return 1 - self.false[kind] / self.findings[kind] if self.findings[kind] else 1.0

    def kept(self) -> float:
        total = sum(self.benign.values())
        return 1 - sum(self.lost.values()) / total if total else 1.0


def _leaked(group: str, value: str, outputs: list[str]) -> bool:
    if any(value in out for out in outputs):
        return True
    if group == "secret" and len(value) > 16:
        pieces = {value[i : i + 16] for i in range(0, len(value) - 15, 4)}
        return any(piece in out for out in outputs for piece in pieces)
    return False


def _findings(s: Scrubber, key: str, text: str) -> list[tuple[int, int, str]]:
    kind = key_kind(key)
    if kind is not None:
        return [(0, len(text), kind)]
    return s.find(text)


def measure(s: Scrubber, corpus: Iterable[Item], counts: Counts | None = None) -> Counts:
    c = counts or Counts()
    for item in corpus:
        out: dict[str, Any] = s.scrub(event(details=item.details))
        outputs = list(strings(out["details"]))
        for t in item.texts:
            for label in t.labels:
                c.seen[label.kind] += 1
                c.group[label.kind] = label.group
                if _leaked(label.group, label.value, outputs):
                    c.missed[label.kind] += 1
                    c.misses.append((label.kind, t.text))
            for look in t.looks:
                c.benign[look.kind] += 1
                if not any(look.value in o for o in outputs):
                    c.lost[look.kind] += 1
                    c.false_examples.append((look.kind, t.text))
            for start, end, kind in _findings(s, t.key, t.text):
                c.findings[kind] += 1
                if not any(lb.start < end and start < lb.end for lb in t.labels):
                    c.false[kind] += 1
                    c.false_examples.append((kind, t.text[max(0, start - 20) : end + 20]))
    return c


def table(c: Counts) -> str:
    rows = [f"{'type':24} {'group':12} {'n':>6} {'recall':>8}"]
    for kind in sorted(c.seen, key=lambda k: (c.group[k], k)):
        rows.append(f"{kind:24} {c.group[kind]:12} {c.seen[kind]:>6} {c.recall(kind):>8.2%}")
    for group in sorted(set(c.group.values())):
        rows.append(f"{'ALL ' + group:24} {'':12} {'':>6} {c.group_recall(group):>8.2%}")
    rows.append(f"{'detector kind':24} {'':12} {'found':>6} {'precision':>9}")
    for kind in sorted(c.findings):
        rows.append(f"{kind:24} {'':12} {c.findings[kind]:>6} {c.precision(kind):>9.2%}")
    rows.append(f"{'look-alike':24} {'':12} {'n':>6} {'kept':>8}")
    for kind in sorted(c.benign):
        kept = 1 - c.lost[kind] / c.benign[kind]
        rows.append(f"{kind:24} {'benign':12} {c.benign[kind]:>6} {kept:>8.2%}")
    rows.append(f"{'ALL benign':24} {'':12} {sum(c.benign.values()):>6} {c.kept():>8.2%}")
    return "\n".join(rows)
