"""``verify --compare``: do two archives (the two regions) hold the same events?

Each region's archiver cuts its own batches (by count, size and age, so a region catching up
after an outage cuts them differently), so the comparison is per partition and offset, not per
object:

* batches with the same offset range on both sides are compared by their signed Merkle roots
  (equal roots: the same records in the same order) without reading the objects;
* for the rest, the records' leaf hashes are read from the objects and compared offset by
  offset; a run of differing offsets is reported once, naming the object on each side;
* offsets held by one side only are reported as missing on the other, unless the other side's
  purge records say it purged them (``format.purge_records``: retention purge runs per region).

It also resolves the cross-witnesses: every checkpoint of one side that names the other side's
checkpoint (``witness``) must find that checkpoint there with the recorded SHA-256, and the
other side's chains must reach every partition head that witnessed checkpoint names: a region
whose tail (batches and checkpoints after the last witnessed one) was cut shows as shorter
than what its peer's signatures prove.

Integrity of each side on its own (signatures, hashes, chains) is ``verify``'s business; this
module reads manifests without checking their signatures, so run both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pydantic import ValidationError

from pipeline.archive.format import layout, merkle, purge_records
from pipeline.archive.format.chain import get_or_none
from pipeline.archive.format.manifest import Checkpoint, Manifest
from pipeline.archive.format.ocf import OcfError, read_ocf
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.archive.verify.verify import Problem


@dataclass(frozen=True, slots=True)
class Side:
    name: str  # how problems name this archive, e.g. the region or the URL
    store: Store


def _manifests(side: Side, problems: list[Problem]) -> dict[tuple[str, int], list[Manifest]]:
    out: dict[tuple[str, int], list[Manifest]] = defaultdict(list)
    for key in side.store.list(layout.EVENTS):
        if not key.endswith(layout.MANIFEST_SUFFIX):
            continue
        try:
            m = Manifest.model_validate_json(side.store.get(key))
        except ValidationError:
            problems.append(Problem(key, "compare", f"{side.name}: unreadable manifest"))
            continue
        out[(m.topic, m.partition)].append(m)
    for ms in out.values():
        ms.sort(key=lambda m: m.first_offset)
    return out


def _leaves(
    side: Side, ms: list[Manifest], problems: list[Problem]
) -> dict[int, tuple[bytes, str]]:
    """offset -> (leaf hash, object key) for the records of ``ms``."""
    out: dict[int, tuple[bytes, str]] = {}
    for m in ms:
        try:
            contents = read_ocf(side.store.get(m.object_key))
        except (OcfError, KeyError) as exc:
            problems.append(Problem(m.object_key, "compare", f"{side.name}: unreadable: {exc}"))
            continue
        hashes = merkle.leaf_hashes(contents.data, contents.bounds)
        for i, h in enumerate(hashes):
            out[m.first_offset + i] = (h, m.object_key)
    return out


def _runs(offsets: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted ``offsets`` as (first, last)."""
    runs: list[tuple[int, int]] = []
    for o in offsets:
        if runs and o == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], o)
        else:
            runs.append((o, o))
    return runs


def _compare_partition(
    a: Side,
    b: Side,
    ma: list[Manifest],
    mb: list[Manifest],
    problems: list[Problem],
    purged: tuple[int, int] = (-1, -1),  # last offset each side's purge records removed
) -> None:
    by_range = {(m.first_offset, m.last_offset): m for m in mb}
    rest_a: list[Manifest] = []
    matched: set[tuple[int, int]] = set()
    for m in ma:
        other = by_range.get((m.first_offset, m.last_offset))
        if other is None:
            rest_a.append(m)
            continue
        matched.add((m.first_offset, m.last_offset))
        if other.merkle_root != m.merkle_root:
            problems.append(
                Problem(
                    m.object_key,
                    "compare",
                    f"{a.name} and {b.name} ({other.object_key}) hold different events at "
                    f"offsets {m.first_offset}..{m.last_offset} (Merkle roots differ)",
                )
            )
    rest_b = [m for m in mb if (m.first_offset, m.last_offset) not in matched]
    if not rest_a and not rest_b:
        return
    la, lb = _leaves(a, rest_a, problems), _leaves(b, rest_b, problems)
    for side, mine, theirs, peer, gone in ((a, la, lb, b, purged[1]), (b, lb, la, a, purged[0])):
        only = sorted(o for o in mine if o not in theirs and o > gone)  # the peer purged <= gone
        for first, last in _runs(only):
            problems.append(
                Problem(
                    mine[first][1],
                    "compare",
                    f"offsets {first}..{last} are in {side.name} but not in {peer.name}",
                )
            )
    differing = sorted(o for o, (h, _) in la.items() if o in lb and lb[o][0] != h)
    for first, last in _runs(differing):
        problems.append(
            Problem(
                la[first][1],
                "compare",
                f"{a.name} and {b.name} ({lb[first][1]}) hold different events at "
                f"offsets {first}..{last}",
            )
        )


def _check_witnesses(
    side: Side,
    other: Side,
    problems: list[Problem],
    heads: dict[tuple[str, int], int] | None = None,
) -> int:
    """Resolve ``side``'s witnesses of ``other``; the number resolved. ``heads``: the last
    offset ``other``'s manifests reach per (topic, partition)."""
    resolved = 0
    purged = purge_records.horizon(other.store).checkpoints
    for key in side.store.list(layout.CHECKPOINTS):
        if not key.endswith(layout.CHECKPOINT_SUFFIX):
            continue
        try:
            cp = Checkpoint.model_validate_json(side.store.get(key))
        except ValidationError:
            continue  # verify reports it
        w = cp.witness
        if w is None or w.checkpoint_key is None:
            continue
        data = get_or_none(other.store, w.checkpoint_key)
        resolved += 1
        if data is None and purged.get(w.checkpoint_key) == w.checkpoint_sha256:
            continue  # the other region purged it, and recorded so
        if data is None:
            problems.append(
                Problem(
                    w.checkpoint_key,
                    "witness",
                    f"{other.name}: checkpoint witnessed by {side.name} {key} is missing",
                )
            )
        elif sha256_hex(data) != w.checkpoint_sha256:
            problems.append(
                Problem(
                    w.checkpoint_key,
                    "witness",
                    f"{other.name}: checkpoint differs from the hash {side.name} {key} witnessed",
                )
            )
        elif heads is not None:
            _check_reach(other, w.checkpoint_key, data, heads, problems)
    return resolved


def _check_reach(
    other: Side,
    wkey: str,
    data: bytes,
    heads: dict[tuple[str, int], int],
    problems: list[Problem],
) -> None:
    """``other``'s chains reach every head its witnessed checkpoint ``wkey`` names."""
    try:
        witnessed = Checkpoint.model_validate_json(data)
    except ValidationError:
        problems.append(Problem(wkey, "witness", f"{other.name}: witnessed checkpoint unreadable"))
        return
    for p, entry in sorted(witnessed.partitions.items()):
        reach = heads.get((witnessed.topic, int(p)), -1) if p.isdigit() else -1
        if reach < entry.last_offset:
            problems.append(
                Problem(
                    wkey,
                    "witness",
                    f"{other.name}: {witnessed.topic}/{p} ends at offset {reach}, shorter than "
                    f"offset {entry.last_offset} its witnessed checkpoint proves: its tail was cut",
                )
            )


@dataclass
class Comparison:
    problems: list[Problem]
    partitions: int
    witnesses: int

    @property
    def ok(self) -> bool:
        return not self.problems


def compare(a: Side, b: Side) -> Comparison:
    """Compare two archives event by event; see the module docstring."""
    problems: list[Problem] = []
    ma, mb = _manifests(a, problems), _manifests(b, problems)
    ha, hb = purge_records.horizon(a.store).offsets, purge_records.horizon(b.store).offsets
    for tp in sorted(set(ma) | set(mb)):
        purged = (ha.get(tp, -1), hb.get(tp, -1))
        _compare_partition(a, b, ma.get(tp, []), mb.get(tp, []), problems, purged)
    reach_a = {tp: max(m.last_offset for m in ms) for tp, ms in ma.items() if ms}
    reach_b = {tp: max(m.last_offset for m in ms) for tp, ms in mb.items() if ms}
    witnesses = _check_witnesses(a, b, problems, reach_b) + _check_witnesses(
        b, a, problems, reach_a
    )
    unique = sorted(set(problems), key=lambda p: (p.key, p.kind, p.message))
    return Comparison(unique, len(set(ma) | set(mb)), witnesses)
