"""Replay a window from the archive, verifying every batch before emitting any of it.

Which batches are read, and how each is placed in its partition's chain: ``archive_plan``.
Before anything of a batch is emitted it is checked with ``archive.verify.verify_batch``
(manifest signature by a keyring key, location, object size and SHA-256, container, count,
Merkle root; a narrow lookup — trace, subject — checks the Merkle root only of batches whose
records hold the id, since it emits nothing of the others) and its chain position. A batch that
fails is refused: nothing of it is emitted and it is named in ``Stats.refused``; with
``allow_unverified`` its events are emitted with ``"_unverified": "<object key>"`` added.
Offsets missing inside the run (a deleted batch) are named the same way; the intact batches
around them are emitted. ``fallback`` (the other region, which cuts its own batches) is read
instead when this archive cannot be listed at all (a region down, a bucket gone); otherwise it
supplies the offsets of a batch that fails here, or of offsets missing here, from its batches
covering them, each verified there and linked to the one before.

Events come out per partition in offset order; an event is emitted when its ``ts`` is in the
window and it passes the filter (``ts`` is read from the body's first bytes, so events outside
the window are never decoded).
"""

from __future__ import annotations

import io
import itertools
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import fastavro
import orjson
from pydantic import ValidationError

from pipeline.archive.format import layout
from pipeline.archive.format.body import peek_ts
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import Manifest
from pipeline.archive.format.ocf import OcfContents, OcfError, read_ocf
from pipeline.archive.format.store import Store
from pipeline.archive.verify.findings import Problem
from pipeline.archive.verify.verify import BatchCheck, check_merkle_root, verify_batch
from pipeline.errors import ConfigError, DeserializationError, RetryableError
from pipeline.replay.archive_plan import (
    Anchor,
    Listed,
    Reader,
    Run,
    Span,
    link,
    place,
    select_runs,
)
from pipeline.replay.convert import record_converter, without_timestamp_logic
from pipeline.replay.filters import Filter
from pipeline.replay.output import Origin, Progress, Sink, Stats
from pipeline.replay.window import Window

UNVERIFIED = "_unverified"
_T = TypeVar("_T")
_R = TypeVar("_R")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(when: datetime) -> int:
    """Microseconds since the epoch, as ``ts`` is stored."""
    return (when - _EPOCH) // timedelta(microseconds=1)


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
    prefixes = layout.event_prefixes(
        topic, window.start.date() - timedelta(days=1), window.end.date()
    )
    reader = Reader(store, keyring, topic, stats)
    try:
        by_partition = reader.manifests(prefixes)
    except RetryableError as exc:  # this region is down or gone: the other one, if given
        if fallback is None:
            raise
        stats.switched = f"cannot read this archive ({exc}); read the other region instead"
        store, fallback = fallback, None
        stats.listed = stats.manifests = 0
        reader = Reader(store, keyring, topic, stats)
        by_partition = reader.manifests(prefixes)
    runs = select_runs(by_partition, window)
    anchor = Anchor(reader, window)
    for run in runs:
        place(run, anchor)
    stats.total = sum(e.manifest.count for run in runs for e in run.batches)
    for problem in reader.global_problems:
        stats.refused.append(str(problem))
    lo_us, hi_us = _us(window.start), _us(window.end)
    decoder = _Decoder()
    todo = [(run, e) for run in runs for e in run.batches]
    try:
        with ThreadPoolExecutor(max(1, jobs)) as pool:

            def check_one(item: tuple[Run, Listed]) -> BatchCheck:
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

            def fill(gap: tuple[Problem, Span]) -> None:
                """Offsets missing here: from the other region, verified there, or named."""
                problem, span = gap
                filled = _from_fallback(fallback, keyring, span, stats) if fallback else None
                if filled is None:
                    stats.refused.append(str(problem))
                for piece, pm, records in filled or []:
                    _emit_batch(
                        piece, lo_us, hi_us, flt, sink, stats, decoder, None, pm, records, resume
                    )

            def one(run: Run, e: Listed, check: BatchCheck) -> None:
                """Emit one batch if it verifies (or from the other region, or marked)."""
                stats.batches += 1
                problems = run.problems.get(e.key, []) + check.problems
                contents = check.contents
                if contents is None and allow_unverified and check.object_data is not None:
                    contents = _readable(check.object_data)
                if problems and fallback is not None:
                    pieces = _from_fallback(fallback, keyring, Span.of(e.manifest), stats)
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
                        return
                if problems or contents is None:
                    text = "; ".join(str(p) for p in problems) or "unreadable"
                    named = f"{e.manifest.object_key}: {text}"
                    if not allow_unverified or contents is None:
                        stats.refused.append(named)
                        return
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

            last_of_run = {id(run): run.batches[-1].key for run in runs}
            for (run, e), check in zip(todo, checked, strict=True):
                if e.key in run.gaps:
                    fill(run.gaps[e.key])
                one(run, e, check)
                if run.tail_gap is not None and last_of_run[id(run)] == e.key:
                    fill(run.tail_gap)
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
    store: Store, keyring: Keyring, span: Span, stats: Stats
) -> list[tuple[OcfContents, Manifest, range]] | None:
    """Offsets ``span`` from the other region's archive, which cuts its own batches: the
    batches there covering them, each verified (signature, hash, Merkle root) and linked to the
    one before; None if they are not all there and sound."""
    found: list[Listed] = []
    lo_day, hi_day = span.day - timedelta(days=1), span.day + timedelta(days=1)
    for prefix in layout.event_prefixes(span.topic, lo_day, hi_day):
        for key in store.list(f"{prefix}p={span.partition}/"):
            stats.listed += 1
            parsed = layout.parse_batch_key(layout.object_key_of_manifest(key))
            if (
                not key.endswith(layout.MANIFEST_SUFFIX)
                or parsed is None
                or parsed.last_offset < span.first
                or parsed.first_offset > span.last
            ):
                continue
            data = store.get(key)
            stats.manifests += 1
            try:
                found.append(Listed(key, data, Manifest.model_validate_json(data)))
            except ValidationError:
                return None
    found.sort(key=lambda e: e.manifest.first_offset)
    if not found or found[0].manifest.first_offset > span.first:
        return None
    pieces: list[tuple[OcfContents, Manifest, range]] = []
    prev: Listed | None = None
    for e in found:
        if prev is not None and link(prev, e) is not None:
            return None
        check = verify_batch(store, keyring, e.key, e.data)
        stats.batches += 1
        if not check.ok or check.contents is None:
            return None
        lo = max(span.first, e.manifest.first_offset) - e.manifest.first_offset
        hi = min(span.last, e.manifest.last_offset) - e.manifest.first_offset
        pieces.append((check.contents, e.manifest, range(lo, hi + 1)))
        prev = e
    if found[-1].manifest.last_offset < span.last:
        return None
    return pieces
