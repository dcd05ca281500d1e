"""Privacy accuracy for `make bench`: the generated, labelled corpus of
``tests/unit/scrub/privacy`` (secrets, national identifiers, national phones, values only
context marks, with look-alikes, in 9 locales) through the shipped policy; recall per type,
precision per detector kind, look-alikes kept. The unit suite asserts the targets on the
same generators (tests/unit/scrub/test_privacy_accuracy.py)."""

from __future__ import annotations

import itertools
from typing import Any

from rich.table import Table

from tests.unit.scrub.helpers import scrubber
from tests.unit.scrub.privacy.contextual import CONTEXTUAL
from tests.unit.scrub.privacy.labelled import Counts, items, measure
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


if __name__ == "__main__":
    from rich.console import Console

    console = Console(width=120)
    for t in privacy_tables(bench_privacy()):
        console.print(t)
