"""The verifier's checkpoint checks: the chain of signed checkpoints, the manifests each names,
and that the latest names every partition's latest manifest (so a deleted tail shows)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from pipeline.archive.format import layout, purge_records
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import GENESIS, Checkpoint
from pipeline.archive.format.store import ObjectNotFoundError, Store, sha256_hex
from pipeline.archive.verify.findings import Entry, Problem, check_signature, first_error


@dataclass
class Ckpt:
    key: str
    sha256: str
    cp: Checkpoint


def read_checkpoints(
    store: Store, keyring: Keyring, keys: Iterable[str], problems: list[Problem]
) -> dict[str, list[Ckpt]]:
    by_topic: dict[str, list[Ckpt]] = defaultdict(list)
    for key in keys:
        data = store.get(key)
        try:
            cp = Checkpoint.model_validate_json(data)
        except ValidationError as exc:
            problems.append(
                Problem(key, "checkpoint", f"not a valid checkpoint: {first_error(exc)}")
            )
            continue
        bad = check_signature(store, keyring, key, layout.checkpoint_sig_key(key), cp.key_id, data)
        if bad:
            problems.append(bad)
        parsed = layout.parse_checkpoint_key(key)
        if parsed is None or (parsed.topic, parsed.seq, parsed.day.isoformat()) != (
            cp.topic,
            cp.seq,
            cp.created[:10],
        ):
            problems.append(Problem(key, "location", "key does not match the checkpoint's content"))
        by_topic[cp.topic].append(Ckpt(key, sha256_hex(data), cp))
    return by_topic


def check_checkpoints(
    store: Store,
    cps: list[Ckpt],
    by_key: dict[str, Entry],
    full: bool,
    problems: list[Problem],
    purged: purge_records.PurgeIndex | None = None,
) -> None:
    cps.sort(key=lambda c: c.cp.seq)
    reported: set[str] = set()
    prev: Ckpt | None = None
    for c in cps:
        cp = c.cp
        if prev is None:
            lawful = purged is not None and purged.accepts_checkpoint_start(cp)
            if full and (cp.seq != 0 or cp.prev_checkpoint_sha256 != GENESIS) and not lawful:
                problems.append(
                    Problem(
                        cp.prev_checkpoint_key or c.key,
                        "checkpoint",
                        f"the first checkpoint is {c.key} (seq {cp.seq}), not "
                        "seq 0: earlier checkpoints were deleted",
                    )
                )
        elif cp.seq != prev.cp.seq + 1:
            problems.append(
                Problem(
                    cp.prev_checkpoint_key or c.key,
                    "checkpoint",
                    f"checkpoints {prev.cp.seq + 1}..{cp.seq - 1} are missing before {c.key}",
                )
            )
        elif cp.prev_checkpoint_key != prev.key or cp.prev_checkpoint_sha256 != prev.sha256:
            problems.append(
                Problem(prev.key, "checkpoint", f"differs from the hash {c.key} recorded for it")
            )
        if prev is not None:
            for p, old in prev.cp.partitions.items():
                new = cp.partitions.get(p)
                if new is None or new.last_offset < old.last_offset:
                    problems.append(
                        Problem(
                            c.key, "checkpoint", f"partition {p} went backwards since {prev.key}"
                        )
                    )
        for p, entry in cp.partitions.items():
            mkey = entry.manifest_key
            if mkey in reported:
                continue
            e = by_key.get(mkey)
            data = e.data if e else get_or_none(store, mkey)
            if data is None and purged and purged.purged(mkey, entry.manifest_sha256):
                continue  # removed by a recorded purge
            if data is None:
                reported.add(mkey)
                okey = layout.object_key_of_manifest(mkey)
                problems.append(
                    Problem(
                        okey,
                        "missing",
                        f"manifest {mkey} named by checkpoint "
                        f"{c.key} is missing: the batch was deleted",
                    )
                )
            elif sha256_hex(data) != entry.manifest_sha256:
                reported.add(mkey)
                problems.append(
                    Problem(
                        mkey,
                        "checkpoint",
                        f"differs from the hash checkpoint "
                        f"{c.key} recorded: the manifest was changed or replaced",
                    )
                )
            elif e is not None and e.manifest.last_offset != entry.last_offset:
                problems.append(
                    Problem(
                        c.key,
                        "checkpoint",
                        f"partition {p}: last offset {entry.last_offset} does not match {mkey}",
                    )
                )
        prev = c


def get_or_none(store: Store, key: str) -> bytes | None:
    try:
        return store.get(key)
    except ObjectNotFoundError:
        return None


def check_latest(
    topic: str, cps: list[Ckpt], entries: list[Entry], problems: list[Problem]
) -> None:
    heads: dict[int, Entry] = {}
    for e in entries:
        h = heads.get(e.manifest.partition)
        if h is None or e.manifest.last_offset > h.manifest.last_offset:
            heads[e.manifest.partition] = e
    if not cps:
        if heads:
            problems.append(
                Problem(
                    f"{layout.CHECKPOINTS}{topic}/",
                    "checkpoint",
                    f"topic {topic} has batches but no checkpoint",
                )
            )
        return
    latest = max(cps, key=lambda c: c.cp.seq)
    for p, e in sorted(heads.items()):
        named = latest.cp.partitions.get(str(p))
        if named is not None and named.last_offset >= e.manifest.last_offset:
            continue  # covered (or a missing/changed manifest already reported)
        since = named.last_offset + 1 if named else 0
        problems.append(
            Problem(
                e.object_key,
                "checkpoint",
                f"{topic}/{p} offsets {since}.."
                f"{e.manifest.last_offset} are not covered by the latest "
                f"checkpoint {latest.key}: a later checkpoint was deleted, or "
                "the archiver stopped before writing one",
            )
        )
