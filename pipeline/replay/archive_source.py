"""Replay a window from the archive, verifying every batch before emitting any of it.

Selection reads what the archive already records, no event bodies: the batch keys under the
``dt=`` prefixes of the window's days (and the day before: a batch is filed under its first
event's date), then each listed manifest's ``min_ts``/``max_ts``. Per partition, the batches
from the first to the last that overlap the window are fetched (a batch between two
overlapping ones is fetched too, so the run is contiguous); no other batch object is.

Before anything of a batch is emitted it is checked with ``archive.verify.verify_batch``
(manifest signature by a keyring key, location, object size and SHA-256, container, count,
Merkle root; a narrow lookup — trace, subject — checks the Merkle root only of batches whose
records hold the id, since it emits nothing of the others) and placed in its partition's
chain: each batch of the run names the SHA-256 of the manifest before it with no offset gap or
overlap (the one before the run too, when it is listed), and the run's last batch is named by
the next manifest (signed) or by a signed checkpoint. A batch that fails is refused: nothing
of it is emitted and it is named in ``Stats.refused``; with ``allow_unverified`` its events
are emitted with ``"_unverified": "<object key>"`` added. Offsets missing inside the run (a
deleted batch) are named the same way; the intact batches around them are emitted.
``fallback`` (the other region, which cuts its own batches) supplies the offsets of a batch
that fails here from its batches covering them, each verified there and linked to the one
before.

Events come out per partition in offset order; an event is emitted when its ``ts`` is in the
window and it passes the filter (``ts`` is read from the body's first bytes, so events outside
the window are never decoded).
"""

from __future__ import annotations

import io
import itertools
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import fastavro
import orjson
from pydantic import ValidationError

from pipeline.archive.format import layout
from pipeline.archive.format.body import peek_ts
from pipeline.archive.format.chain import latest_checkpoint_key
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import GENESIS, Checkpoint, Manifest
from pipeline.archive.format.ocf import OcfContents, OcfError, read_ocf
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.archive.verify.findings import Problem, check_signature
from pipeline.archive.verify.verify import BatchCheck, check_merkle_root, verify_batch
from pipeline.errors import ConfigError, DeserializationError
from pipeline.events.jsonform import parse_ts
from pipeline.replay.convert import record_converter, without_timestamp_logic
from pipeline.replay.filters import Filter
from pipeline.replay.output import Origin, Progress, Sink, Stats
from pipeline.replay.window import Window

UNVERIFIED = "_unverified"
_T = TypeVar("_T")
_R = TypeVar("_R")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Listed:
    key: str  # manifest key
    data: bytes
    manifest: Manifest

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)


@dataclass
class _Run:
    """One partition's batches to read, with their listed neighbours."""

    partition: int
    batches: list[_Listed]
    before: _Listed | None
    after: _Listed | None
    problems: dict[str, list[Problem]] = field(default_factory=dict)  # manifest key -> problems
    gaps: list[Problem] = field(default_factory=list)


def _us(when: datetime) -> int:
    """Microseconds since the epoch, as ``ts`` is stored."""
    return (when - _EPOCH) // timedelta(microseconds=1)


class _Reader:
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

    def manifests(self, prefixes: list[str]) -> dict[int, list[_Listed]]:
        by_partition: dict[int, list[_Listed]] = defaultdict(list)
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
                by_partition[m.partition].append(_Listed(key, data, m))
        for listed in by_partition.values():
            listed.sort(key=lambda e: (e.manifest.first_offset, e.manifest.last_offset))
        return by_partition


def _runs(by_partition: dict[int, list[_Listed]], window: Window) -> list[_Run]:
    runs: list[_Run] = []
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
            _Run(
                p,
                listed[lo : hi + 1],
                listed[lo - 1] if lo > 0 else None,
                listed[hi + 1] if hi + 1 < len(listed) else None,
            )
        )
    return runs


def _link(prev: _Listed, cur: _Listed) -> Problem | None:
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


def _add(run: _Run, key: str, problem: Problem) -> None:
    """A problem of one batch (refused), or of the run (a gap: the batch after it is intact, the
    missing offsets are named)."""
    if problem.kind == "coverage" and "missing" in problem.message:
        run.gaps.append(problem)
    else:
        run.problems.setdefault(key, []).append(problem)


class _Anchor:
    """Finds what names a run's last batch: the next manifest, or a signed checkpoint."""

    def __init__(self, reader: _Reader, window: Window) -> None:
        self.reader = reader
        self.window = window
        self._next_day: dict[int, list[_Listed]] | None = None
        self._checkpoints: dict[str, Checkpoint | None] = {}

    def successor(self, run: _Run) -> _Listed | None:
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

    def named_by_checkpoint(self, last: _Listed) -> bool:
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


def _place(run: _Run, anchor: _Anchor) -> None:
    """Chain position of every batch of ``run`` (problems recorded per batch)."""
    first = run.batches[0]
    if run.before is not None:
        bad = _link(run.before, first)
        if bad is not None:
            _add(run, first.key, bad)
    elif first.manifest.first_offset == 0 and first.manifest.prev_manifest_sha256 != GENESIS:
        _add(run, first.key, Problem(first.key, "chain", "offset 0 does not start the chain"))
    for prev, cur in zip(run.batches, run.batches[1:], strict=False):
        bad = _link(prev, cur)
        if bad is not None:
            _add(run, cur.key, bad)
    last = run.batches[-1]
    nxt = anchor.successor(run)
    if nxt is not None:
        bad = _link(last, nxt)
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


class _Decoder:
    """Per writer schema (the container's header): the reader schema and the compiled
    converter to the JSON form."""

    def __init__(self) -> None:
        self._schemas: dict[str, tuple[Any, Callable[[Any], dict[str, Any]]]] = {}

    def schemas(self, schema_json: str) -> tuple[Any, Callable[[Any], dict[str, Any]]]:
        entry = self._schemas.get(schema_json)
        if entry is None:
            doc = orjson.loads(schema_json)
            expanded = fastavro.parse_schema(doc, expand=True, _write_hint=False)
            if not isinstance(expanded, dict):
                raise DeserializationError("the container's schema is not a record")
            entry = (
                fastavro.parse_schema(without_timestamp_logic(doc)),
                record_converter(expanded),
            )
            self._schemas[schema_json] = entry
        return entry


def _emit_batch(
    contents: OcfContents,
    lo_us: int,
    hi_us: int,
    flt: Filter,
    sink: Sink,
    stats: Stats,
    decoder: _Decoder,
    mark: str | None,
    m: Manifest,
    records: range | None = None,
    resume: Mapping[int, int] | None = None,
) -> None:
    writer, to_json = decoder.schemas(contents.schema_json)
    header = b"\x00" + m.schema_id.to_bytes(4, "big") if m.schema_id is not None else None
    data, bounds = contents.data, contents.bounds
    indices = records if records is not None else range(len(bounds) - 1)
    if resume and m.partition in resume:  # a resumed copy: offsets already copied are skipped
        first = max(indices.start, resume[m.partition] - m.first_offset)
        indices = range(first, max(first, indices.stop))
    if not flt.may_match(data):  # no record of the batch holds a needle: none is decoded
        stats.scanned += len(indices)
        return
    for i in indices:
        body = data[bounds[i] : bounds[i + 1]]
        stats.scanned += 1
        if not flt.may_match(body):
            continue
        try:
            ts = peek_ts(body)
        except DeserializationError:
            stats.undecodable += 1
            continue
        if ts < lo_us or ts >= hi_us:
            continue
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(body), writer, None)
        except Exception:  # fastavro raises many types on bad data; never quote it
            stats.undecodable += 1
            continue
        doc = to_json(datum)
        if flt(doc):
            if flt.transform is not None:
                doc = flt.transform(doc)
            if mark is not None:
                doc[UNVERIFIED] = mark
            # the record as it was on the topic (wire format); no key: keys are not archived
            origin = (
                Origin(m.topic, m.partition, m.first_offset + i, header + body)
                if header is not None
                else None
            )
            sink.write(doc, origin)
            stats.matched += 1


def replay_archive(
    store: Store,
    keyring: Keyring,
    topic: str,
    window: Window,
    flt: Filter,
    sink: Sink,
    *,
    allow_unverified: bool = False,
    fallback: Store | None = None,
    progress: Progress | None = None,
    jobs: int = 4,
    resume: Mapping[int, int] | None = None,
) -> Stats:
    """Emit the archived events of ``topic`` in ``window`` passing ``flt``, each batch verified
    first; see the module docstring. ``Stats.refused``/``unverified`` name failing batches.

    ``jobs`` threads fetch and verify batches ahead of the one being emitted (at most
    ``2 * jobs`` batches in memory); hashing, decompression and S3 reads run outside the GIL.
    ``resume`` maps partitions to the first offset still to emit (a resumed ``--to-topic``)."""
    if window.end is None:
        raise ConfigError("an archive replay needs --to")
    stats = Stats()
    reader = _Reader(store, keyring, topic, stats)
    start_day = window.start.date() - timedelta(days=1)
    by_partition = reader.manifests(
        layout.event_prefixes(reader.topic, start_day, window.end.date())
    )
    runs = _runs(by_partition, window)
    anchor = _Anchor(reader, window)
    for run in runs:
        _place(run, anchor)
        reader.global_problems.extend(run.gaps)
    stats.total = sum(e.manifest.count for run in runs for e in run.batches)
    for problem in reader.global_problems:
        stats.refused.append(str(problem))
    lo_us, hi_us = _us(window.start), _us(window.end)
    decoder = _Decoder()
    todo = [(run, e) for run in runs for e in run.batches]
    try:
        with ThreadPoolExecutor(max(1, jobs)) as pool:

            def check_one(item: tuple[_Run, _Listed]) -> BatchCheck:
                e = item[1]
                if not flt.needles:
                    return verify_batch(store, keyring, e.key, e.data)
                # a narrow lookup: the Merkle root only of batches that may hold a match
                # (the object's signed SHA-256 already makes the others' absence authentic)
                check = verify_batch(store, keyring, e.key, e.data, check_merkle=False)
                if check.contents is not None and flt.may_match(check.contents.data):
                    check.problems.extend(
                        check_merkle_root(check.contents, e.manifest.object_key, e.manifest)
                    )
                return check

            checked = _ahead(pool, check_one, todo, 2 * jobs)
            for (run, e), check in zip(todo, checked, strict=True):
                stats.batches += 1
                problems = run.problems.get(e.key, []) + check.problems
                contents = check.contents
                if contents is None and allow_unverified and check.object_data is not None:
                    contents = _readable(check.object_data)
                if problems and fallback is not None:
                    pieces = _from_fallback(fallback, keyring, e.manifest, stats)
                    if pieces is not None:
                        for piece, pm, records in pieces:
                            _emit_batch(
                                piece,
                                lo_us,
                                hi_us,
                                flt,
                                sink,
                                stats,
                                decoder,
                                None,
                                pm,
                                records,
                                resume,
                            )
                        continue
                if problems or contents is None:
                    text = "; ".join(str(p) for p in problems) or "unreadable"
                    named = f"{e.manifest.object_key}: {text}"
                    if not allow_unverified or contents is None:
                        stats.refused.append(named)
                        continue
                    stats.unverified.append(named)
                    mark: str | None = e.manifest.object_key
                else:
                    mark = None
                _emit_batch(
                    contents,
                    lo_us,
                    hi_us,
                    flt,
                    sink,
                    stats,
                    decoder,
                    mark,
                    e.manifest,
                    None,
                    resume,
                )
                if progress is not None:
                    progress(stats)
    finally:
        sink.close()
    if progress is not None:
        progress(stats)
    return stats


def _ahead(
    pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: list[_T], depth: int
) -> Iterator[_R]:
    """``fn`` of each item, in order, computed up to ``depth`` items ahead."""
    pending: deque[Future[_R]] = deque()
    it = iter(items)
    for item in itertools.islice(it, max(1, depth)):
        pending.append(pool.submit(fn, item))
    while pending:
        result = pending.popleft().result()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(pool.submit(fn, nxt))
        yield result


def _readable(data: bytes) -> OcfContents | None:
    """The records of a batch that failed verification, if its container still parses."""
    try:
        return read_ocf(data)
    except (OcfError, IndexError, ValueError):
        return None


def _from_fallback(
    store: Store, keyring: Keyring, m: Manifest, stats: Stats
) -> list[tuple[OcfContents, Manifest, range]] | None:
    """The offsets of batch ``m`` from the other region's archive, which cuts its own batches:
    the batches there covering ``m.first_offset..m.last_offset`` of the partition, each
    verified (signature, hash, Merkle root) and linked to the one before; None if they are
    not all there and sound."""
    day = parse_ts(m.first_ts, "first_ts").date()
    found: list[_Listed] = []
    for prefix in layout.event_prefixes(m.topic, day - timedelta(days=1), day):
        for key in store.list(f"{prefix}p={m.partition}/"):
            stats.listed += 1
            parsed = layout.parse_batch_key(layout.object_key_of_manifest(key))
            if (
                not key.endswith(layout.MANIFEST_SUFFIX)
                or parsed is None
                or parsed.last_offset < m.first_offset
                or parsed.first_offset > m.last_offset
            ):
                continue
            data = store.get(key)
            stats.manifests += 1
            try:
                found.append(_Listed(key, data, Manifest.model_validate_json(data)))
            except ValidationError:
                return None
    found.sort(key=lambda e: e.manifest.first_offset)
    if not found or found[0].manifest.first_offset > m.first_offset:
        return None
    pieces: list[tuple[OcfContents, Manifest, range]] = []
    prev: _Listed | None = None
    for e in found:
        if prev is not None and _link(prev, e) is not None:
            return None
        check = verify_batch(store, keyring, e.key, e.data)
        stats.batches += 1
        if not check.ok or check.contents is None:
            return None
        lo = max(m.first_offset, e.manifest.first_offset) - e.manifest.first_offset
        hi = min(m.last_offset, e.manifest.last_offset) - e.manifest.first_offset
        pieces.append((check.contents, e.manifest, range(lo, hi + 1)))
        prev = e
    if found[-1].manifest.last_offset < m.last_offset:
        return None
    return pieces
