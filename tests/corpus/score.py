"""Labelled samples and their score from the spans a tool redacts, the same for every tool.

A sample is one string (a log line, a JSON string, a URL, a sentence) with labelled spans:
sensitive values (a kind and a group) and benign look-alikes (group ``benign``). A tool
reports the spans it would redact. Then:

* a sensitive value is caught when the redacted spans cover every letter and digit of it
  (an address: at least 80 % of them, the street and town being what identifies);
* precision of a kind: of the spans redacted in the samples made for that kind, the share
  that overlaps a sensitive value (a redaction of a look-alike or of plain text counts
  against it);
* a look-alike is kept when no redacted span overlaps it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Spans = Sequence[tuple[int, int]]
GROUP_ORDER = ("secret", "national_id", "context", "direct", "benign")


@dataclass(frozen=True)
class Label:
    kind: str
    group: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    kind: str  # the kind the sample was made for
    group: str
    locale: str
    shape: str
    text: str
    labels: tuple[Label, ...]


def _covered(text: str, label: Label, found: Spans) -> float:
    chars = [i for i in range(label.start, label.end) if text[i].isalnum()]
    if not chars:
        return 1.0
    hit = sum(1 for i in chars if any(s <= i < e for s, e in found))
    return hit / len(chars)


def caught(text: str, label: Label, found: Spans) -> bool:
    need = 0.8 if label.kind == "postal_address" else 1.0
    return _covered(text, label, found) >= need


@dataclass
class Report:
    seen: Counter[str] = field(default_factory=Counter)
    hit: Counter[str] = field(default_factory=Counter)
    group: dict[str, str] = field(default_factory=dict)
    true_spans: Counter[str] = field(default_factory=Counter)
    false_spans: Counter[str] = field(default_factory=Counter)
    benign: Counter[str] = field(default_factory=Counter)
    kept_: Counter[str] = field(default_factory=Counter)
    misses: list[tuple[str, str]] = field(default_factory=list)
    false: list[tuple[str, str]] = field(default_factory=list)

    def recall(self, kind: str) -> float:
        return self.hit[kind] / self.seen[kind] if self.seen[kind] else 1.0

    def precision(self, kind: str) -> float:
        total = self.true_spans[kind] + self.false_spans[kind]
        return self.true_spans[kind] / total if total else 1.0

    def group_recall(self, group: str) -> float:
        kinds = [k for k, g in self.group.items() if g == group and self.seen[k]]
        seen = sum(self.seen[k] for k in kinds)
        return sum(self.hit[k] for k in kinds) / seen if seen else 1.0

    def group_precision(self, group: str) -> float:
        kinds = [k for k, g in self.group.items() if g == group]
        t = sum(self.true_spans[k] for k in kinds)
        f = sum(self.false_spans[k] for k in kinds)
        return t / (t + f) if t + f else 1.0

    def kept(self, kind: str | None = None) -> float:
        if kind is not None:
            return self.kept_[kind] / self.benign[kind] if self.benign[kind] else 1.0
        total = sum(self.benign.values())
        return sum(self.kept_.values()) / total if total else 1.0

    def kinds(self) -> list[str]:
        """Sensitive kinds, grouped in GROUP_ORDER."""
        return sorted(
            (k for k in self.group if self.seen[k]),
            key=lambda k: (GROUP_ORDER.index(self.group[k]), k),
        )


def score(
    samples: Iterable[Sample], found: Iterable[Spans], report: Report | None = None
) -> Report:
    r = report or Report()
    for sample, spans in zip(samples, found, strict=True):
        r.group.setdefault(sample.kind, sample.group)
        sensitive = [lb for lb in sample.labels if lb.group != "benign"]
        for lb in sample.labels:
            if lb.group == "benign":
                r.benign[lb.kind] += 1
                if any(s < lb.end and lb.start < e for s, e in spans):
                    r.false.append((lb.kind, sample.text))
                else:
                    r.kept_[lb.kind] += 1
                continue
            r.group[lb.kind] = lb.group
            r.seen[lb.kind] += 1
            if caught(sample.text, lb, spans):
                r.hit[lb.kind] += 1
            else:
                r.misses.append((lb.kind, sample.text))
        for s, e in spans:
            if any(s < lb.end and lb.start < e for lb in sensitive):
                r.true_spans[sample.kind] += 1
            else:
                r.false_spans[sample.kind] += 1
    return r


def table(r: Report) -> str:
    rows = [f"{'kind':22} {'group':12} {'n':>6} {'recall':>8} {'precision':>10}"]
    for k in r.kinds():
        rows.append(
            f"{k:22} {r.group[k]:12} {r.seen[k]:>6} {r.recall(k):>8.2%} {r.precision(k):>10.2%}"
        )
    for g in GROUP_ORDER[:-1]:
        if any(v == g for v in r.group.values()):
            recall, precision = r.group_recall(g), r.group_precision(g)
            rows.append(f"{'ALL ' + g:22} {'':12} {'':>6} {recall:>8.2%} {precision:>10.2%}")
    for k in sorted(r.benign):
        rows.append(f"{k:22} {'benign':12} {r.benign[k]:>6} {'kept':>8} {r.kept(k):>10.2%}")
    rows.append(
        f"{'ALL benign kept':22} {'':12} {sum(r.benign.values()):>6} {'':>8} {r.kept():>10.2%}"
    )
    return "\n".join(rows)
