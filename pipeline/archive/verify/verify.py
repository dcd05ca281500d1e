"""``auditpipe verify``: prove an archive complete and unchanged, offline, from public keys alone.

Checks, naming the object each problem concerns:

* every manifest and checkpoint parses and carries a valid Ed25519 signature by a keyring key;
* every manifest sits at the key derived from its own topic, partition, offsets and date, and
  describes the object next to it (so renamed or swapped batches show);
* every batch object exists and has the signed size and SHA-256; its container parses, holds the
  signed number of records, and the RFC 6962 Merkle root over its raw records (split by the record
  lengths in the header, no decoding) equals the signed root;
* per partition, the manifests' offsets cover a consecutive range with no gap or overlap, and
  each manifest names the SHA-256 of the previous one (the first names ``GENESIS``);
* checkpoints form a chain (seq 0, 1, 2, …, each naming the previous one's key and hash), every
  manifest a checkpoint names exists with that hash, partitions never go backwards, and the latest
  checkpoint names every partition's latest manifest (so a deleted tail shows);
* no stray objects (a batch or signature without a manifest, an unknown key);
* the archive is not empty (a wiped archive, or a mistyped location, is not "OK");
* freshness: a topic's latest checkpoint is no older than ``max_age`` against the wall clock.
  The streaming archiver signs a checkpoint every ``heartbeat_s`` even when idle, so deleting
  the last batches together with the last checkpoints leaves a latest checkpoint that is too
  old. Without an explicit ``max_age`` the limit is ``auto_max_age(heartbeat_s)`` of the latest
  checkpoint; offline imports sign no heartbeat and get no limit unless one is given.

``deep`` additionally decodes every record with fastavro: the standard reader reads the file,
each stored record length is exactly one record, and the signed event times are the events'.
With a time range, only batches whose first event falls in the range (±1 day for the listing) and
whose events overlap it are checked; chain links into the range and the "latest checkpoint"
rule are then checked only where both ends are in view.
"""

from __future__ import annotations

import io
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import orjson
from pydantic import ValidationError

from pipeline.archive.format import layout, merkle, purge_records
from pipeline.archive.format.body import peek_id_ts, schema_sha256
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import GENESIS, Manifest
from pipeline.archive.format.ocf import OcfContents, OcfError, read_ocf
from pipeline.archive.format.store import ObjectNotFoundError, Store, sha256_hex
from pipeline.archive.verify.checkpoints import (
    Ckpt,
    check_checkpoints,
    check_latest,
    read_checkpoints,
)
from pipeline.archive.verify.findings import (
    Entry,
    Problem,
    Report,
    Summary,
    check_signature,
    first_error,
)
from pipeline.events.jsonform import format_ts, parse_ts

__all__ = [
    "BatchCheck",
    "Problem",
    "Report",
    "Summary",
    "auto_max_age",
    "check_merkle_root",
    "check_object",
    "verify",
    "verify_batch",
]

Progress = Callable[[int, int], None]

# a streaming archive's default freshness bound: this many heartbeats, and never under the floor
# (an archiver restart, a store outage retried with backoff or a rebalance delays a checkpoint)
AUTO_HEARTBEATS = 5
AUTO_FLOOR = timedelta(minutes=10)


def auto_max_age(heartbeat_s: float) -> timedelta:
    """The freshness bound ``verify`` applies to a streaming archive by default."""
    return max(AUTO_FLOOR, timedelta(seconds=AUTO_HEARTBEATS * heartbeat_s))


def _check_fresh(
    topic: str, cps: list[Ckpt], max_age: timedelta | None, now: datetime, problems: list[Problem]
) -> None:
    if not cps:
        return
    latest = max(cps, key=lambda c: c.cp.seq)
    limit = max_age
    if limit is None and latest.cp.heartbeat_s is not None:
        limit = auto_max_age(latest.cp.heartbeat_s)
    if limit is None:
        return
    age = now - parse_ts(latest.cp.created, "created")
    if age > limit:
        problems.append(
            Problem(
                latest.key,
                "stale",
                f"the latest checkpoint of topic {topic} was signed {_span(age)} ago, more than "
                f"the {_span(limit)} allowed (--max-age): the last batches and checkpoints were "
                "deleted, or the archiver has not run since",
            )
        )


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def _read_manifest(
    store: Store, keyring: Keyring, key: str, problems: list[Problem], data: bytes | None = None
) -> Entry | None:
    okey = layout.object_key_of_manifest(key)
    data = store.get(key) if data is None else data
    try:
        m = Manifest.model_validate_json(data)
    except ValidationError as exc:
        problems.append(Problem(key, "manifest", f"not a valid manifest: {first_error(exc)}"))
        return None
    bad_sig = check_signature(store, keyring, key, layout.manifest_sig_key(okey), m.key_id, data)
    if bad_sig:
        problems.append(bad_sig)
    if m.object_key != okey:
        problems.append(
            Problem(key, "location", f"describes {m.object_key} but is stored for {okey}")
        )
    parsed = layout.parse_batch_key(okey)
    expected = (m.topic, m.partition, m.first_offset, m.last_offset, m.first_ts[:10])
    if parsed is None or expected != (
        parsed.topic,
        parsed.partition,
        parsed.first_offset,
        parsed.last_offset,
        parsed.day.isoformat(),
    ):
        problems.append(
            Problem(okey, "location", "key does not match the manifest's topic/partition/offsets")
        )
    if m.count != m.last_offset - m.first_offset + 1 or m.last_offset < m.first_offset:
        problems.append(
            Problem(key, "coverage", f"count {m.count} does not match offsets {m.first_offset}..")
        )
    return Entry(key, okey, data, sha256_hex(data), m, bad_sig is None)


def check_object(store: Store, okey: str, m: Manifest, deep: bool) -> list[Problem]:
    """Check one batch object against its (signed) manifest."""
    try:
        data = store.get(okey)
    except ObjectNotFoundError:
        return [Problem(okey, "missing", "batch object is missing (its manifest exists)")]
    return _check_object_data(data, okey, m, deep)[0]


def _check_object_data(
    data: bytes, okey: str, m: Manifest, deep: bool, check_merkle: bool = True
) -> tuple[list[Problem], OcfContents | None]:
    if len(data) != m.object_size or sha256_hex(data) != m.object_sha256:
        problem = Problem(okey, "object-hash", "size or SHA-256 differs from the signed manifest")
        return [problem], None
    try:
        contents = read_ocf(data)
    except OcfError as exc:
        return [Problem(okey, "format", str(exc))], None
    out: list[Problem] = []
    if contents.count != m.count or contents.codec != m.codec:
        out.append(
            Problem(
                okey,
                "format",
                f"holds {contents.count} {contents.codec} records, "
                f"the manifest says {m.count} {m.codec}",
            )
        )
    if check_merkle:
        out.extend(check_merkle_root(contents, okey, m))
    if deep:
        out.extend(_deep(data, contents.bodies(), contents.schema_json, okey, m))
    return out, contents


def check_merkle_root(contents: OcfContents, okey: str, m: Manifest) -> list[Problem]:
    """The RFC 6962 root over the container's raw records against the signed one."""
    if merkle.records_root(contents.data, contents.bounds).hex() != m.merkle_root:
        return [Problem(okey, "merkle", "Merkle root of the records differs from the manifest")]
    return []


def _deep(
    data: bytes, bodies: list[bytes], schema_json: str, okey: str, m: Manifest
) -> list[Problem]:
    out: list[Problem] = []
    try:
        raw = orjson.loads(schema_json)
        schema = fastavro.parse_schema(raw)
        records: list[Any] = list(fastavro.reader(io.BytesIO(data)))
    except Exception as exc:  # fastavro raises many types on corrupt data
        return [Problem(okey, "deep", f"fastavro cannot read the file: {exc}")]
    if schema_sha256(raw) != m.schema_sha256:
        out.append(Problem(okey, "deep", "writer schema differs from the manifest's schema hash"))
    if len(records) != len(bodies):
        out.append(Problem(okey, "deep", f"fastavro reads {len(records)} records"))
        return out
    ts: list[datetime] = []
    for i, (body, rec) in enumerate(zip(bodies, records, strict=True)):
        bio = io.BytesIO(body)
        try:
            single = fastavro.schemaless_reader(bio, schema, None)
        except Exception as exc:
            out.append(Problem(okey, "deep", f"record {i} does not decode: {exc}"))
            continue
        if bio.tell() != len(body) or single != rec:
            out.append(Problem(okey, "deep", f"record {i}: stored length is not one record"))
        elif peek_id_ts(body)[0] != rec["event_id"]:
            out.append(Problem(okey, "deep", f"record {i}: event_id peek disagrees"))
        ts.append(rec["ts"])
    if ts:
        claimed = (m.first_ts, m.last_ts, m.min_ts, m.max_ts)
        actual = tuple(format_ts(t) for t in (ts[0], ts[-1], min(ts), max(ts)))
        if claimed != actual:
            out.append(Problem(okey, "deep", "event times differ from the manifest's"))
    return out


def _check_object_args(args: tuple[Store, str, Manifest, bool]) -> list[Problem]:
    return check_object(*args)


def _check_chain(
    entries: list[Entry],
    full: bool,
    problems: list[Problem],
    purged: purge_records.PurgeIndex | None = None,
) -> None:
    entries.sort(key=lambda e: (e.manifest.first_offset, e.manifest.last_offset))
    prev: Entry | None = None
    for e in entries:
        m = e.manifest
        if prev is None:
            lawful = purged is not None and purged.accepts_chain_start(m)  # see purge_records.py
            if full and m.prev_manifest_sha256 != GENESIS and not lawful:
                problems.append(
                    Problem(
                        e.key,
                        "chain",
                        f"first manifest of {m.topic}/{m.partition} links to "
                        "a previous manifest that is missing: earlier batches were deleted",
                    )
                )
        else:
            p = prev.manifest
            if m.first_offset <= p.last_offset:
                problems.append(
                    Problem(
                        e.object_key,
                        "coverage",
                        f"offsets {m.first_offset}..{m.last_offset} overlap {prev.object_key}",
                    )
                )
            elif m.first_offset > p.last_offset + 1:
                problems.append(
                    Problem(
                        e.object_key,
                        "coverage",
                        f"offsets {p.last_offset + 1}.."
                        f"{m.first_offset - 1} are missing between {prev.object_key} and "
                        f"{e.object_key}",
                    )
                )
            elif m.prev_manifest_sha256 != prev.sha256:
                problems.append(
                    Problem(e.key, "chain", f"previous-manifest hash does not match {prev.key}")
                )
        prev = e


def _in_range(m: Manifest, start: datetime | None, end: datetime | None) -> bool:
    lo = parse_ts(m.min_ts, "min_ts")
    hi = parse_ts(m.max_ts, "max_ts")
    return (start is None or hi >= start) and (end is None or lo <= end)


def _list(
    store: Store, start: datetime | None, end: datetime | None, topics: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    if start is None or end is None:
        return list(store.list(layout.EVENTS)), list(store.list(layout.CHECKPOINTS))
    if topics is None:
        found = {layout.parse_checkpoint_key(k) for k in store.list(layout.CHECKPOINTS)}
        topics = sorted({k.topic for k in found if k is not None})
    lo, hi = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    events: list[str] = []
    ckpts: list[str] = []
    for t in topics:
        for prefix in layout.event_prefixes(t, lo - timedelta(days=1), hi):
            events.extend(store.list(prefix))
        for prefix in layout.checkpoint_prefixes(t, lo, hi + timedelta(days=1)):
            ckpts.extend(store.list(prefix))
    return events, ckpts


def verify(
    store: Store,
    keyring: Keyring,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    deep: bool = False,
    topics: Sequence[str] | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> Report:
    """Check the archive in ``store``; see the module docstring for what is checked.

    ``max_age`` bounds the age of each topic's latest checkpoint (None: the streaming
    archiver's signed heartbeat decides, see ``auto_max_age``); ``now`` is the wall clock."""
    t0 = time.perf_counter()
    if start is not None and end is not None and start > end:
        raise ValueError("the start of the time range is after its end")
    now = now or datetime.now(UTC)
    full = start is None and end is None
    problems: list[Problem] = []
    event_keys, ckpt_keys = _list(store, start, end, topics)
    if (
        not event_keys
        and not ckpt_keys
        and (full or next(iter(store.list(layout.CHECKPOINTS)), None) is None)
    ):
        problems.append(
            Problem(
                "/",
                "empty",
                "the archive holds no batches and no checkpoints: a wrong location, or a wiped "
                "archive",
            )
        )
    if topics is not None:
        wanted = tuple(f"{layout.EVENTS}{t}/" for t in topics)
        event_keys = [k for k in event_keys if k.startswith(wanted)]
        ckpt_keys = [
            k for k in ckpt_keys if k.startswith(tuple(f"{layout.CHECKPOINTS}{t}/" for t in topics))
        ]

    objects: set[str] = set()
    sigs: set[str] = set()
    manifest_keys: list[str] = []
    for key in event_keys:
        if key.endswith(layout.MANIFEST_SUFFIX):
            manifest_keys.append(key)
        elif key.endswith(layout.MANIFEST_SIG_SUFFIX):
            sigs.add(key)
        elif key.endswith(layout.BATCH_SUFFIX):
            objects.add(key)
        else:
            problems.append(Problem(key, "unexpected", "not an archive object"))

    entries: list[Entry] = []
    for key in manifest_keys:
        e = _read_manifest(store, keyring, key, problems)
        if e is not None and (full or _in_range(e.manifest, start, end)):
            entries.append(e)
    for okey in sorted(objects - {layout.object_key_of_manifest(k) for k in manifest_keys}):
        problems.append(
            Problem(
                okey,
                "orphan",
                "batch object without a manifest (an interrupted write, or an inserted object)",
            )
        )
    for skey in sorted(
        sigs - {layout.manifest_sig_key(layout.object_key_of_manifest(k)) for k in manifest_keys}
    ):
        mkey = skey.removesuffix(layout.MANIFEST_SIG_SUFFIX) + layout.MANIFEST_SUFFIX
        problems.append(Problem(skey, "orphan", f"signature without its manifest {mkey}"))

    # objects: the heavy part, optionally over several processes
    purged, purge_problems = purge_records.load(store, keyring)
    problems.extend(Problem(*p) for p in purge_problems)
    # a recorded purge may have stopped after deleting a batch but before its manifest
    trusted = [e for e in entries if e.trusted and not purged.purged(e.key, e.sha256)]
    args = [(store, e.object_key, e.manifest, deep) for e in trusted]
    total = len(args)
    if jobs > 1 and total > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results: Iterable[list[Problem]] = pool.map(
                _check_object_args, args, chunksize=max(1, min(16, total // (4 * jobs)))
            )
            for done, res in enumerate(results, 1):
                problems.extend(res)
                if progress:
                    progress(done, total)
    else:
        for done, a in enumerate(args, 1):
            problems.extend(_check_object_args(a))
            if progress:
                progress(done, total)

    by_partition: dict[tuple[str, int], list[Entry]] = defaultdict(list)
    for e in entries:
        by_partition[(e.manifest.topic, e.manifest.partition)].append(e)
    for group in by_partition.values():
        _check_chain(group, full, problems, purged)

    ckpt_json = [k for k in ckpt_keys if k.endswith(layout.CHECKPOINT_SUFFIX)]
    ckpt_sigs = {k for k in ckpt_keys if k.endswith(layout.CHECKPOINT_SIG_SUFFIX)}
    for key in ckpt_keys:
        if key not in ckpt_sigs and not key.endswith(layout.CHECKPOINT_SUFFIX):
            problems.append(Problem(key, "unexpected", "not an archive object"))
    for skey in sorted(ckpt_sigs - {layout.checkpoint_sig_key(k) for k in ckpt_json}):
        problems.append(
            Problem(skey, "orphan", f"signature without its checkpoint {skey[:-4]}.json")
        )
    cps = read_checkpoints(store, keyring, ckpt_json, problems)
    by_key = {e.key: e for e in entries}
    entries_by_topic: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        entries_by_topic[e.manifest.topic].append(e)
    for topic in sorted(set(cps) | set(entries_by_topic)):
        check_checkpoints(store, cps.get(topic, []), by_key, full, problems, purged)
        if end is None:
            check_latest(topic, cps.get(topic, []), entries_by_topic.get(topic, []), problems)
            _check_fresh(topic, cps.get(topic, []), max_age, now, problems)

    summary = Summary(
        topics=len(entries_by_topic),
        partitions=len(by_partition),
        batches=len(entries),
        events=sum(e.manifest.count for e in entries),
        object_bytes=sum(e.manifest.object_size for e in entries),
        checkpoints=len(ckpt_json),
        first_ts=min((e.manifest.min_ts for e in entries), default=None),
        last_ts=max((e.manifest.max_ts for e in entries), default=None),
        latest_checkpoint=max((c.cp.created for cs in cps.values() for c in cs), default=None),
        seconds=time.perf_counter() - t0,
    )
    unique = sorted(set(problems), key=lambda p: (p.key, p.kind, p.message))
    return Report(unique, summary)


@dataclass(frozen=True)
class BatchCheck:
    """One batch checked on its own (``verify_batch``): its manifest as read, the manifest's
    SHA-256 (what the next manifest and checkpoints name), the container's contents when they
    could be read, and every problem found."""

    manifest_key: str
    manifest: Manifest | None
    manifest_sha256: str
    contents: OcfContents | None
    problems: list[Problem]
    object_data: bytes | None = None  # the batch object as fetched, even when it fails

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest is not None and self.contents is not None


def verify_batch(
    store: Store,
    keyring: Keyring,
    manifest_key: str,
    manifest_data: bytes | None = None,
    *,
    check_merkle: bool = True,
) -> BatchCheck:
    """Check one batch and its manifest, as ``verify`` does for each: the manifest parses, is
    signed by a keyring key, sits where its content says; the object has the signed size and
    SHA-256, parses, holds the signed count, and its Merkle root is the signed one. The chain
    position (links to the neighbours) is the caller's to check, from ``manifest_sha256`` and
    ``manifest.prev_manifest_sha256``. ``contents`` are the very bytes checked, for a reader
    to emit. ``check_merkle=False`` leaves the Merkle root (the costliest check) to the caller
    (``check_merkle_root``), for a reader that emits nothing of most batches it reads."""
    problems: list[Problem] = []
    try:
        data = store.get(manifest_key) if manifest_data is None else manifest_data
    except ObjectNotFoundError:
        problems.append(Problem(manifest_key, "missing", "manifest is missing"))
        return BatchCheck(manifest_key, None, "", None, problems)
    entry = _read_manifest(store, keyring, manifest_key, problems, data)
    if entry is None:
        return BatchCheck(manifest_key, None, sha256_hex(data), None, problems)
    try:
        obj = store.get(entry.object_key)
    except ObjectNotFoundError:
        problems.append(
            Problem(entry.object_key, "missing", "batch object is missing (its manifest exists)")
        )
        return BatchCheck(manifest_key, entry.manifest, entry.sha256, None, problems)
    found, contents = _check_object_data(obj, entry.object_key, entry.manifest, False, check_merkle)
    problems.extend(found)
    return BatchCheck(manifest_key, entry.manifest, entry.sha256, contents, problems, obj)
