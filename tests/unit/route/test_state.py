"""The router's durable state and the silences topic records, as pure logic."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from pipeline.errors import RetryableError
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topicio import AsyncProducer
from pipeline.route.config import RoutingConfig
from pipeline.route.engine import STATE_VERSION, Router, RouterState
from pipeline.route.grouping import Notification
from pipeline.route.silencelog import apply_records
from pipeline.route.silences import Silence, Silences
from pipeline.route.state import PartitionState, StateStore, Ticket, outbox_key

from .helpers import BASIC, alert, at, routing


def _replay(records: list[tuple[str, object]]) -> dict[str, dict[str, Any]]:
    """What a compacted topic holds after ``records``: the last value per key, no tombstones."""
    items: dict[str, dict[str, Any]] = {"a": {}, "g": {}, "o": {}, "t": {}}
    for item, value in records:
        kind, _, name = item.partition("|")
        if value is None:
            items[kind].pop(name, None)
        else:
            items[kind][name] = orjson.loads(orjson.dumps(value))
    return items


def _restore(config: RoutingConfig, items: dict[str, dict[str, Any]]) -> PartitionState:
    state = RouterState.decode(
        {"version": STATE_VERSION, "alerts": items["a"], "groups": items["g"]}
    )
    outbox = {k: Notification.decode(v) for k, v in items["o"].items()}
    tickets = {k: Ticket.decode(v) for k, v in items["t"].items()}
    return PartitionState(0, Router(config, state=state), outbox, tickets)


def test_changes_rebuild_the_state_and_nothing_is_sent_twice(tmp_path: Path) -> None:
    config = routing(tmp_path, BASIC)
    part = PartitionState(0, Router(config))
    part.router.ingest(alert(0, dedup_key="k1"), at(0))
    written = part.take_changes()
    assert {item.split("|")[0] for item, _ in written} == {"a", "g"}
    [note] = part.router.due(at(30))
    part.put_outbox(outbox_key(note), note)
    part.add_ticket("k1", 1)
    written += part.take_changes()
    assert part.take_changes() == []  # nothing changed since

    restored = _restore(config, _replay(written))
    assert [n for _, n in restored.pending()] == [note]
    assert restored.router.due(at(31)) == []  # already sent: not again
    restored.router.ingest(alert(40, dedup_key="k1", count=50), at(40))  # a re-consumed update
    assert restored.router.due(at(400)) == []
    assert restored.tickets == {"k1": Ticket(1)}


def test_deletions_are_tombstones(tmp_path: Path) -> None:
    short = BASIC.replace("repeat_interval: 4h", "repeat_interval: 4h\nresolve_timeout: 1m")
    config = routing(tmp_path, short)
    part = PartitionState(0, Router(config))
    part.router.ingest(alert(0, dedup_key="k1", window_end=None), at(0))
    [note] = part.router.due(at(30))
    part.put_outbox(outbox_key(note), note)
    written = part.take_changes()
    part.pop_outbox(outbox_key(note))
    part.router.due(at(3600))  # the alert expired, its group is gone
    written += part.take_changes()
    items = _replay(written)
    assert items == {"a": {}, "g": {}, "o": {}, "t": {}}


def test_prune_tickets_forgets_old_ones(tmp_path: Path) -> None:
    part = PartitionState(0, Router(routing(tmp_path, BASIC)))
    day_us = 24 * 3600 * 10**6
    part.tickets = {"old": Ticket(0), "new": Ticket(40 * day_us)}
    part.prune_tickets(40 * day_us)
    assert part.tickets == {"new": Ticket(40 * day_us)}


def test_silence_records_put_replace_and_tombstone() -> None:
    silence = Silence.model_validate(
        {
            "id": "s1",
            "matchers": ['rule_id="r1"'],
            "starts_at": at(0),
            "ends_at": at(3600),
            "created_by": "me",
            "comment": "c",
        }
    )
    shorter = silence.model_copy(update={"ends_at": at(60)})
    silences = Silences()
    records: list[tuple[bytes, bytes | None]] = [
        (b"s1", orjson.dumps(silence.to_json())),
        (b"bad", b"not json"),
        (b"s1", orjson.dumps(shorter.to_json())),
    ]
    assert apply_records(silences, records) == 2
    got = silences.get("s1")
    assert got is not None
    assert got.ends_at - got.starts_at == timedelta(seconds=60)
    apply_records(silences, [(b"s1", None)])
    assert silences.get("s1") is None


class _Producer:
    """Records what ``StateStore.save`` sends; refuses everything while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[tuple[bytes | None, bytes | None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if self.down:
            raise RetryableError(f"produce to {topic} failed: broker down")
        self.sent.append((key, value))


def test_a_failed_save_is_written_by_the_next_one(tmp_path: Path) -> None:
    config = routing(tmp_path, BASIC)
    store = StateStore(KafkaConnection(bootstrap_servers="x:1"), "state", "g", "in")
    part = PartitionState(0, Router(config))
    producer = _Producer()
    part.router.ingest(alert(0, dedup_key="k1"), at(0))
    [note] = part.router.due(at(30))
    part.put_outbox(outbox_key(note), note)
    part.add_ticket("k1", 1)

    producer.down = True
    with pytest.raises(RetryableError):
        asyncio.run(store.save(cast(AsyncProducer, producer), part))
    assert producer.sent == []
    producer.down = False
    asyncio.run(store.save(cast(AsyncProducer, producer), part))

    prefix = b"g|in|p0|"
    written = [
        (k.removeprefix(prefix).decode(), None if v is None else orjson.loads(v))
        for k, v in producer.sent
        if k is not None
    ]
    restored = _restore(config, _replay(written))
    assert [n for _, n in restored.pending()] == [note]
    assert restored.tickets == {"k1": Ticket(1)}
    assert restored.router.due(at(31)) == []  # its group is saved as sent: not sent again
