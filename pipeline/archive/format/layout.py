"""Object keys of the archive: one place that names and parses them.

```
events/<topic>/dt=YYYY-MM-DD/p=<partition>/<first:020d>-<last:020d>.avro            batch (OCF)
events/<topic>/dt=YYYY-MM-DD/p=<partition>/<first:020d>-<last:020d>.avro.manifest.json
events/<topic>/dt=YYYY-MM-DD/p=<partition>/<first:020d>-<last:020d>.avro.manifest.sig
checkpoints/<topic>/dt=YYYY-MM-DD/<seq:020d>.json                                    checkpoint
checkpoints/<topic>/dt=YYYY-MM-DD/<seq:020d>.sig
intents/<topic>/p=<partition>/<first:020d>-<sha>.json      a flush's batches of a partition
```

``dt`` of a batch is the UTC date of its *first event's* ``ts`` (by offset), not the day the batch
was cut: an offline import of last year's events lands under last year's dates, and a time-range
query lists only the ``dt=`` prefixes of the days it asks for (plus the day before, for batches
that started before midnight). ``dt`` of a checkpoint is the day it was written. Zero-padded
offsets and sequence numbers make lexicographic order (S3's listing order) numeric order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

EVENTS = "events/"
CHECKPOINTS = "checkpoints/"
INTENTS = "intents/"
BATCH_SUFFIX = ".avro"
MANIFEST_SUFFIX = ".avro.manifest.json"
MANIFEST_SIG_SUFFIX = ".avro.manifest.sig"
CHECKPOINT_SUFFIX = ".json"
CHECKPOINT_SIG_SUFFIX = ".sig"

_TOPIC = r"[A-Za-z0-9._-]{1,249}"
TOPIC_RE = re.compile(rf"^{_TOPIC}$")
_BATCH_RE = re.compile(
    rf"^events/(?P<topic>{_TOPIC})/dt=(?P<day>\d{{4}}-\d{{2}}-\d{{2}})/p=(?P<partition>\d+)/"
    r"(?P<first>\d{20})-(?P<last>\d{20})\.avro$"
)
_CHECKPOINT_RE = re.compile(
    rf"^checkpoints/(?P<topic>{_TOPIC})/dt=(?P<day>\d{{4}}-\d{{2}}-\d{{2}})/(?P<seq>\d{{20}})\.json$"
)


@dataclass(frozen=True, slots=True)
class BatchKey:
    topic: str
    day: date
    partition: int
    first_offset: int
    last_offset: int


@dataclass(frozen=True, slots=True)
class CheckpointKey:
    topic: str
    day: date
    seq: int


def check_topic(topic: str) -> str:
    if not TOPIC_RE.match(topic) or topic in (".", ".."):
        raise ValueError(f"not a Kafka topic name: {topic!r}")
    return topic


def batch_key(topic: str, partition: int, first_offset: int, last_offset: int, day: date) -> str:
    check_topic(topic)
    return (
        f"{EVENTS}{topic}/dt={day.isoformat()}/p={partition}/"
        f"{first_offset:020d}-{last_offset:020d}{BATCH_SUFFIX}"
    )


def manifest_key(object_key: str) -> str:
    return object_key + MANIFEST_SUFFIX.removeprefix(BATCH_SUFFIX)


def manifest_sig_key(object_key: str) -> str:
    return object_key + MANIFEST_SIG_SUFFIX.removeprefix(BATCH_SUFFIX)


def object_key_of_manifest(key: str) -> str:
    return key.removesuffix(MANIFEST_SUFFIX) + BATCH_SUFFIX


def checkpoint_key(topic: str, seq: int, day: date) -> str:
    check_topic(topic)
    return f"{CHECKPOINTS}{topic}/dt={day.isoformat()}/{seq:020d}{CHECKPOINT_SUFFIX}"


def intent_prefix(topic: str, partition: int, first_offset: int) -> str:
    """Intents of flushes whose batches of ``partition`` start at ``first_offset``."""
    return f"{INTENTS}{check_topic(topic)}/p={partition}/{first_offset:020d}-"


def intent_key(topic: str, partition: int, first_offset: int, content_sha256: str) -> str:
    """Where a flush announces its batches of one partition before writing them (see ``chain``);
    named by content, so a retry of the same flush finds its own and a different one a new key."""
    return f"{intent_prefix(topic, partition, first_offset)}{content_sha256[:16]}.json"


def checkpoint_sig_key(key: str) -> str:
    return key.removesuffix(CHECKPOINT_SUFFIX) + CHECKPOINT_SIG_SUFFIX


def parse_batch_key(key: str) -> BatchKey | None:
    m = _BATCH_RE.match(key)
    if m is None:
        return None
    try:
        day = date.fromisoformat(m["day"])
    except ValueError:
        return None
    return BatchKey(m["topic"], day, int(m["partition"]), int(m["first"]), int(m["last"]))


def parse_checkpoint_key(key: str) -> CheckpointKey | None:
    m = _CHECKPOINT_RE.match(key)
    if m is None:
        return None
    try:
        day = date.fromisoformat(m["day"])
    except ValueError:
        return None
    return CheckpointKey(m["topic"], day, int(m["seq"]))


def days(start: date, end: date) -> list[date]:
    """Every date from ``start`` to ``end`` inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def event_prefixes(topic: str, start: date, end: date) -> list[str]:
    """Listing prefixes of the batches whose first event falls on ``start``..``end``."""
    return [f"{EVENTS}{check_topic(topic)}/dt={d.isoformat()}/" for d in days(start, end)]


def checkpoint_prefixes(topic: str, start: date, end: date) -> list[str]:
    return [f"{CHECKPOINTS}{check_topic(topic)}/dt={d.isoformat()}/" for d in days(start, end)]
