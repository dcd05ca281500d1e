"""The verifier's vocabulary: a problem found, the summary and report of a run, a manifest
as read, and the signature check every signed object goes through."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import Manifest
from pipeline.archive.format.store import ObjectNotFoundError, Store


@dataclass(frozen=True, slots=True)
class Problem:
    key: str  # the object concerned
    kind: str  # signature, object-hash, merkle, chain, coverage, checkpoint, missing, …
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}: {self.message}"


@dataclass
class Summary:
    topics: int = 0
    partitions: int = 0
    batches: int = 0
    events: int = 0
    object_bytes: int = 0
    checkpoints: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    latest_checkpoint: str | None = None
    seconds: float = 0.0

    def __str__(self) -> str:
        span = f"{self.first_ts} .. {self.last_ts}" if self.first_ts else "no events"
        return (
            f"{self.events:,} events in {self.batches:,} batches ({self.object_bytes:,} bytes), "
            f"{self.partitions} partitions of {self.topics} topics, {self.checkpoints} "
            f"checkpoints (latest {self.latest_checkpoint or '-'}); events {span}; "
            f"{self.seconds:.2f} s"
        )


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Entry:
    key: str  # the manifest's key
    object_key: str
    data: bytes
    sha256: str
    manifest: Manifest
    trusted: bool


def first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "document"
    return f"{where}: {err['msg']}"


def check_signature(
    store: Store, keyring: Keyring, key: str, sig_key: str, kid: str, data: bytes
) -> Problem | None:
    try:
        sig = store.get(sig_key)
    except ObjectNotFoundError:
        return Problem(sig_key, "missing", f"the signature of {key} is missing")
    reason = keyring.verify(kid, data, sig)
    return Problem(key, "signature", reason) if reason else None
