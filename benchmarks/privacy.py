"""Privacy accuracy for `make bench`.

* The generated, labelled corpus of ``tests/unit/scrub/privacy`` (secrets, national
  identifiers, national phones, values only context marks, with look-alikes, in 9 locales)
  through the shipped policy as the stage applies it (map keys included); recall per type,
  precision per detector kind, look-alikes kept. The unit suite asserts the targets on the
  same generators (tests/unit/scrub/test_privacy_accuracy.py).
* Ours vs Presidio (benchmarks/presidio.py) on two corpora, each tool scored the same way
  from the spans it redacts (tests/corpus/score.py): that existing corpus, each value given to
  both as one string ``"{key}: {text}"``, and the independent one of ``tests/corpus/independent``
  (10 locales, written without reading the detectors; tests/corpus/independent/test_corpus.py
  asserts the targets on it).
"""

from __future__ import annotations

import itertools
from typing import Any

from rich.table import Table

from tests.corpus.independent.generate import corpus
from tests.corpus.score import GROUP_ORDER, Label, Report, Sample
from tests.unit.scrub.helpers import scrubber
from tests.unit.scrub.privacy.contextual import CONTEXTUAL
from tests.unit.scrub.privacy.labelled import Counts, Item, items, measure
from tests.unit.scrub.privacy.national import NATIONAL
from tests.unit.scrub.privacy.phones import PHONES
from tests.unit.scrub.privacy.secrets import SECRETS


def bench_privacy(per_kind: int = 300, seed: int = 21) -> Counts:
    corpora = [
        items(m, seed + i, per_kind) for i, m in enumerate((SECRETS, NATIONAL, PHONES, CONTEXTUAL))
    ]
    return measure(scrubber(), itertools.chain(*corpora))


def privacy_tables(c: Counts) -> tuple[Table, Table]:
    recall = Table(title="privacy: recall per type (generated corpus, shipped policy)")
    for col in ("type", "group", "n", "recall"):
        recall.add_column(col, justify="left" if col in ("type", "group") else "right")
    for kind in sorted(c.seen, key=lambda k: (c.group[k], k)):
        recall.add_row(kind, c.group[kind], f"{c.seen[kind]}", f"{c.recall(kind):.2%}")
    for group in sorted(set(c.group.values())):
        recall.add_row(f"ALL {group}", "", "", f"{c.group_recall(group):.2%}")
    recall.add_row(
        "ALL benign look-alikes kept", "", f"{sum(c.benign.values())}", f"{c.kept():.2%}"
    )
    precision = Table(title="privacy: precision per detector kind")
    for col in ("detector kind", "findings", "precision"):
        precision.add_column(col, justify="left" if col == "detector kind" else "right")
    for kind in sorted(c.findings):
        precision.add_row(kind, f"{c.findings[kind]}", f"{c.precision(kind):.2%}")
    return recall, precision


def privacy_json(c: Counts) -> dict[str, Any]:
    return {
        "recall": {k: c.recall(k) for k in c.seen},
        "group_recall": {g: c.group_recall(g) for g in set(c.group.values())},
        "precision": {k: c.precision(k) for k in c.findings},
        "benign_kept": c.kept(),
    }


REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "BR", "NL", "PL", "IN")


def _samples(item: Item) -> list[Sample]:
    """Each labelled value of an existing-corpus item as one string, its key in front."""
    out = []
    for t in item.texts:
        firsts = t.labels or t.looks
        if not firsts:
            continue
        shift = len(t.key) + 2
        labels = tuple(
            Label(lb.kind, lb.group, lb.start + shift, lb.end + shift) for lb in t.labels + t.looks
        )
        out.append(Sample(firsts[0].kind, firsts[0].group, "", t.key, f"{t.key}: {t.text}", labels))
    return out


def corpora(per_kind_existing: int = 20, per_kind_independent: int = 40) -> dict[str, list[Sample]]:
    makers = (SECRETS, NATIONAL, PHONES, CONTEXTUAL)
    existing = itertools.chain(*(items(m, 31 + i, per_kind_existing) for i, m in enumerate(makers)))
    return {
        "independent": list(corpus(seed=2026, per_kind=per_kind_independent)),
        "existing": [s for item in existing for s in _samples(item)],
    }


def ours_spans(samples: list[Sample]) -> list[list[tuple[int, int]]]:
    s = scrubber()
    return [[(a, b) for a, b, _ in s.find(x.text)] for x in samples]


def compared(ours: Report, theirs: Report) -> dict[str, Any]:
    """Per kind and per group: n, recall and precision of both tools; look-alikes kept."""
    rows: dict[str, Any] = {}
    for k in ours.kinds():
        rows[k] = {
            "group": ours.group[k],
            "n": ours.seen[k],
            "ours": {"recall": ours.recall(k), "precision": ours.precision(k)},
            "presidio": {"recall": theirs.recall(k), "precision": theirs.precision(k)},
        }
    for g in GROUP_ORDER[:-1]:
        if any(v == g for v in ours.group.values()):
            rows[f"ALL {g}"] = {
                "group": g,
                "n": sum(n for k, n in ours.seen.items() if ours.group[k] == g),
                "ours": {"recall": ours.group_recall(g), "precision": ours.group_precision(g)},
                "presidio": {
                    "recall": theirs.group_recall(g),
                    "precision": theirs.group_precision(g),
                },
            }
    for k in sorted(ours.benign):
        rows[f"kept: {k}"] = {
            "group": "benign",
            "n": ours.benign[k],
            "ours": {"kept": ours.kept(k)},
            "presidio": {"kept": theirs.kept(k)},
        }
    rows["ALL benign kept"] = {
        "group": "benign",
        "n": sum(ours.benign.values()),
        "ours": {"kept": ours.kept()},
        "presidio": {"kept": theirs.kept()},
    }
    return rows


def _cells(row: dict[str, Any]) -> list[str]:
    if "kept" in row["ours"]:
        return ["", f"{row['ours']['kept']:.1%}", "", f"{row['presidio']['kept']:.1%}"]
    o, p = row["ours"], row["presidio"]
    return [
        f"{o['recall']:.1%}",
        f"{o['precision']:.1%}",
        f"{p['recall']:.1%}",
        f"{p['precision']:.1%}",
    ]


_HEAD = (
    "type",
    "group",
    "n",
    "ours recall",
    "ours precision / kept",
    "Presidio recall",
    "Presidio precision / kept",
)


def comparison_tables(reports: dict[str, dict[str, Report]]) -> list[Table]:
    tables = []
    for name, r in reports.items():
        t = Table(title=f"privacy: ours vs Presidio, {name} corpus (spans redacted)")
        for col in _HEAD:
            t.add_column(col, justify="left" if col in ("type", "group") else "right")
        for kind, row in compared(r["ours"], r["presidio"]).items():
            t.add_row(kind, row["group"], f"{row['n']}", *_cells(row))
        tables.append(t)
    return tables


def comparison_markdown(reports: dict[str, dict[str, Report]]) -> str:
    out = []
    for name, r in reports.items():
        out += [
            f"### {name} corpus",
            "",
            "| " + " | ".join(_HEAD) + " |",
            "|" + "---|" * len(_HEAD),
        ]
        for kind, row in compared(r["ours"], r["presidio"]).items():
            bold = "**" if kind.startswith("ALL") else ""
            cells = [f"{bold}{kind}{bold}", row["group"], f"{row['n']}", *_cells(row)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    from rich.console import Console

    console = Console(width=120)
    for t in privacy_tables(bench_privacy()):
        console.print(t)
