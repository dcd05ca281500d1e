"""Which archived batches a replay reads, and their place in the chain.

Selection reads what the archive already records, no event bodies: the batch keys under the
``dt=`` prefixes of the window's days (and the day before: a batch is filed under its first
event's date), then each listed manifest's ``min_ts``/``max_ts``. Per partition, the batches
from the first to the last that overlap the window form a *run* (a batch between two
overlapping ones belongs to it, so the run is contiguous); no other batch object is fetched.

Chain position: each batch of a run names the SHA-256 of the manifest before it, with no offset
gap or overlap (the one before the run too, when it is listed), and the run's last batch is
named by the next manifest (signed) or by a signed checkpoint. Offsets missing between two
batches (a deleted batch) are recorded as gaps, not held against the intact batch after them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import ValidationError

from pipeline.archive.format import layout
from pipeline.archive.format.chain import latest_checkpoint_key
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import GENESIS, Checkpoint, Manifest
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.archive.verify.findings import Problem, check_signature
from pipeline.events.jsonform import parse_ts
from pipeline.replay.output import Stats
from pipeline.replay.window import Window


@dataclass
class Listed:
    key: str  # manifest key
    data: bytes
    manifest: Manifest

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)


@dataclass(frozen=True, slots=True)
class Span:
    """Offsets of one partition, and a day their events are near (for listing)."""

    topic: str
    partition: int
    first: int
    last: int
    day: date

    @classmethod
    def of(cls, m: Manifest) -> Span:
        day = parse_ts(m.first_ts, "first_ts").date()
        return cls(m.topic, m.partition, m.first_offset, m.last_offset, day)


@dataclass
class Run:
    """One partition's batches to read, with their listed neighbours."""

    partition: int
    batches: list[Listed]
    before: Listed | None
    after: Listed | None
    problems: dict[str, list[Problem]] = field(default_factory=dict)  # manifest key -> problems
    gaps: dict[str, tuple[Problem, Span]] = field(default_factory=dict)  # before manifest key
    tail_gap: tuple[Problem, Span] | None = None  # offsets missing after the last batch


class Reader:
    """What one replay reads: listing, manifests, neighbours; counts into ``stats``."""

    def __init__(self, store: Store, keyring: Keyring, topic: str, stats: Stats) -> None:
        self.store = store
        self.keyring = keyring
        self.topic = layout.check_topic(topic)
        self.stats = stats
        self.global_problems: list[Problem] = []

    def get(self, key: str) -> bytes:
        return self.store.get(key)

    def keys(self, prefix: str) -> list[str]:
        keys = list(self.store.list(prefix))
        self.stats.listed += len(keys)
        return keys

    def manifests(self, prefixes: list[str]) -> dict[int, list[Listed]]:
        by_partition: dict[int, list[Listed]] = defaultdict(list)
        for prefix in prefixes:
            for key in self.keys(prefix):
                if not key.endswith(layout.MANIFEST_SUFFIX):
                    continue
                data = self.get(key)
                self.stats.manifests += 1
                try:
                    m = Manifest.model_validate_json(data)
                except ValidationError:
                    self.global_problems.append(
                        Problem(key, "manifest", "not a valid manifest: cannot tell its times")
                    )
                    continue
                by_partition[m.partition].append(Listed(key, data, m))
        for listed in by_partition.values():
            listed.sort(key=lambda e: (e.manifest.first_offset, e.manifest.last_offset))
        return by_partition


def select_runs(by_partition: dict[int, list[Listed]], window: Window) -> list[Run]:
    runs: list[Run] = []
    for p, listed in sorted(by_partition.items()):
        hits = [
            i
            for i, e in enumerate(listed)
            if window.overlaps(
                parse_ts(e.manifest.min_ts, "min_ts"), parse_ts(e.manifest.max_ts, "max_ts")
            )
        ]
        if not hits:
            continue
        lo, hi = hits[0], hits[-1]
        runs.append(
            Run(
                p,
                listed[lo : hi + 1],
                listed[lo - 1] if lo > 0 else None,
                listed[hi + 1] if hi + 1 < len(listed) else None,
            )
        )
    return runs


def link(prev: Listed, cur: Listed) -> Problem | None:
    p, m = prev.manifest, cur.manifest
    okey = m.object_key
    if m.first_offset <= p.last_offset:
        return Problem(okey, "coverage", f"offsets {m.first_offset}.. overlap {p.object_key}")
    if m.first_offset > p.last_offset + 1:
        return Problem(
            okey,
            "coverage",
            f"offsets {p.last_offset + 1}..{m.first_offset - 1} are missing before this batch",
        )
    if m.prev_manifest_sha256 != prev.sha256:
        return Problem(cur.key, "chain", f"previous-manifest hash does not match {prev.key}")
    return None


def _add(run: Run, key: str, problem: Problem, prev: Listed | None = None) -> None:
    """A problem of one batch (refused), or offsets missing before it (named, or read from
    the other region; the batch itself is intact)."""
    if prev is not None and problem.kind == "coverage" and "missing" in problem.message:
        p = prev.manifest
        cur = next(e for e in run.batches if e.key == key).manifest
        day = parse_ts(p.last_ts, "last_ts").date()
        run.gaps[key] = (
            problem,
            Span(p.topic, p.partition, p.last_offset + 1, cur.first_offset - 1, day),
        )
    else:
        run.problems.setdefault(key, []).append(problem)


class Anchor:
    """Finds what names a run's last batch: the next manifest, or a signed checkpoint."""

    def __init__(self, reader: Reader, window: Window) -> None:
        self.reader = reader
        self.window = window
        self._next_day: dict[int, list[Listed]] | None = None
        self._checkpoints: dict[str, Checkpoint | None] = {}

    def successor(self, run: Run) -> Listed | None:
        if run.after is not None:
            return run.after
        if self._next_day is None:
            assert self.window.end is not None
            day = self.window.end.date() + timedelta(days=1)
            self._next_day = self.reader.manifests(
                layout.event_prefixes(self.reader.topic, day, day)
            )
        later = [
            e
            for e in self._next_day.get(run.partition, [])
            if e.manifest.first_offset > run.batches[-1].manifest.last_offset
        ]
        return later[0] if later else None

    def _checkpoint(self, key: str) -> Checkpoint | None:
        if key not in self._checkpoints:
            data = self.reader.get(key)
            cp: Checkpoint | None
            try:
                cp = Checkpoint.model_validate_json(data)
            except ValidationError:
                cp = None
            if cp is not None and check_signature(
                self.reader.store,
                self.reader.keyring,
                key,
                layout.checkpoint_sig_key(key),
                cp.key_id,
                data,
            ):
                cp = None
            self._checkpoints[key] = cp
        return self._checkpoints[key]

    def named_by_checkpoint(self, last: Listed) -> bool:
        def names(key: str) -> bool:
            cp = self._checkpoint(key)
            entry = cp.partitions.get(str(last.manifest.partition)) if cp is not None else None
            return entry is not None and (entry.manifest_key, entry.manifest_sha256) == (
                last.key,
                last.sha256,
            )

        latest = latest_checkpoint_key(self.reader.store, self.reader.topic)
        if latest is not None and names(latest):
            return True
        day = parse_ts(last.manifest.created, "created").date()
        for prefix in layout.checkpoint_prefixes(self.reader.topic, day, day + timedelta(days=1)):
            for key in self.reader.keys(prefix):
                if key.endswith(layout.CHECKPOINT_SUFFIX) and names(key):
                    return True
        return False


def place(run: Run, anchor: Anchor) -> None:
    """Chain position of every batch of ``run`` (problems recorded per batch)."""
    first = run.batches[0]
    if run.before is not None:
        bad = link(run.before, first)
        if bad is not None:
            _add(run, first.key, bad, run.before)
    elif first.manifest.first_offset == 0 and first.manifest.prev_manifest_sha256 != GENESIS:
        _add(run, first.key, Problem(first.key, "chain", "offset 0 does not start the chain"))
    for prev, cur in zip(run.batches, run.batches[1:], strict=False):
        bad = link(prev, cur)
        if bad is not None:
            _add(run, cur.key, bad, prev)
    last = run.batches[-1]
    nxt = anchor.successor(run)
    if nxt is not None:
        bad = link(last, nxt)
        sig = check_signature(
            anchor.reader.store,
            anchor.reader.keyring,
            nxt.key,
            layout.manifest_sig_key(nxt.manifest.object_key),
            nxt.manifest.key_id,
            nxt.data,
        )
        if bad is None and sig is None:
            return
        if sig is None and bad is not None and bad.kind == "coverage" and "missing" in bad.message:
            # the batch (or batches) after the run is gone: named, or read from the other region
            p = last.manifest
            day = parse_ts(p.last_ts, "last_ts").date()
            span = Span(p.topic, p.partition, p.last_offset + 1, nxt.manifest.first_offset - 1, day)
            run.tail_gap = (bad, span)
            return
    if not anchor.named_by_checkpoint(last):
        _add(
            run,
            last.key,
            Problem(
                last.manifest.object_key,
                "chain",
                "no signed later manifest or checkpoint names this batch: its chain position "
                "cannot be proved",
            ),
        )
