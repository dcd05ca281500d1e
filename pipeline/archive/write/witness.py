"""Cross-witnessing: each region's checkpoints name the other region's latest checkpoint.

A ``WitnessWatcher`` follows another region's archive in a background thread (at most one
lookup every ``interval_s``: a few LIST requests and one GET, see ``chain.latest_checkpoint_key``)
and hands the archiver the latest checkpoint it saw as a ``Witness``, which goes into the signed
checkpoint. The archiver never waits for the other region: while it is unreachable the last
known witness (or none) is used, so an outage of one region never slows the other.

What it buys: a checkpoint of region A signed at time t commits to region B's chain up to the
checkpoint it names, so B's history before t cannot be rewritten later without A's signed
checkpoints disagreeing (``verify --compare`` checks every witness it can resolve).
"""

from __future__ import annotations

import logging
import threading

from pipeline.archive.format.chain import latest_checkpoint_key
from pipeline.archive.format.manifest import Witness
from pipeline.archive.format.store import Store, sha256_hex
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)


def latest_witness(store: Store, region: str, topic: str) -> Witness | None:
    """The latest checkpoint of ``topic`` in ``store`` as a witness, or None if there is none."""
    key = latest_checkpoint_key(store, topic)
    if key is None:
        return None
    return Witness(region=region, checkpoint_key=key, checkpoint_sha256=sha256_hex(store.get(key)))


class WitnessWatcher:
    """The latest checkpoint of ``topic`` in another region's ``store``, refreshed in background."""

    def __init__(self, store: Store, region: str, topic: str, *, interval_s: float = 5.0) -> None:
        self.store = store
        self.region = region
        self.topic = topic
        self.interval_s = interval_s
        self._latest: Witness | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def latest(self) -> Witness | None:
        with self._lock:
            return self._latest

    def refresh(self) -> Witness | None:
        """Look the other region's head up now (the background thread calls this)."""
        try:
            found = latest_witness(self.store, self.region, self.topic)
        except (PipelineError, OSError) as exc:
            log.info("witness region unavailable", extra={"region": self.region, "error": str(exc)})
            return self.latest()
        if found is not None:
            with self._lock:
                self._latest = found
        return found

    def start(self) -> WitnessWatcher:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"witness-{self.region}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.interval_s)
