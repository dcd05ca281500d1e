"""The router's durable state in a compacted topic, one record per item so a turn writes only
what changed (the equivalent of a faust changelog table, written explicitly so the stage can
await it before committing offsets).

Keys are ``<group id>|<input topic>|p<N>|<kind>|<name>`` for input partition ``N``:

* ``a|<dedup_key>``: an alert the router holds (for grouping, inhibition, resolution);
* ``g|<group key>``: a group (its alerts, next flush, what it last sent and when);
* ``o|<receiver>/<notification id>``: the **outbox**, notifications decided but not yet
  finished delivering (re-delivered after a restart with the same ``Idempotency-Key``);
* ``t|<alert dedup_key>``: the ticket ledger (a ticket is created once per dedup key).

A tombstone deletes an item. ``<group id>|breakers`` holds the circuit breakers by receiver.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topicio import AsyncProducer, read_to_end
from pipeline.route.config import RoutingConfig
from pipeline.route.engine import STATE_VERSION, Router
from pipeline.route.grouping import Notification
from pipeline.route.silences import Silences

#: how long the ledger remembers that a ticket exists for a dedup key
TICKET_MEMORY = timedelta(days=30)


@dataclass
class PartitionState:
    partition: int
    router: Router
    outbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)
    _changed_outbox: set[str] = field(default_factory=set)
    _changed_tickets: set[str] = field(default_factory=set)

    def put_outbox(self, key: str, note: Notification) -> None:
        self.outbox[key] = note.to_json()
        self._changed_outbox.add(key)

    def pop_outbox(self, key: str) -> None:
        if self.outbox.pop(key, None) is not None:
            self._changed_outbox.add(key)

    def add_ticket(self, key: str, now_us: int) -> None:
        self.tickets[key] = now_us
        self._changed_tickets.add(key)

    def pending(self) -> list[tuple[str, Notification]]:
        return [(k, Notification.from_json(v)) for k, v in sorted(self.outbox.items())]

    def prune_tickets(self, now_us: int) -> None:
        horizon = now_us - TICKET_MEMORY // timedelta(microseconds=1)
        for key in [k for k, t in self.tickets.items() if t < horizon]:
            del self.tickets[key]
            self._changed_tickets.add(key)

    def take_changes(self) -> list[tuple[str, Any]]:
        """(kind|name, JSON value or None) for every item changed since the last call."""
        alerts, groups = self.router.take_changes()
        out: list[tuple[str, Any]] = [(f"a|{k}", v) for k, v in alerts.items()]
        out += [(f"g|{k}", v) for k, v in groups.items()]
        out += [(f"o|{k}", self.outbox.get(k)) for k in self._changed_outbox]
        out += [(f"t|{k}", self.tickets.get(k)) for k in self._changed_tickets]
        self._changed_outbox, self._changed_tickets = set(), set()
        return out


def outbox_key(note: Notification) -> str:
    return f"{note.receiver}/{note.id}"


class StateStore:
    def __init__(self, conn: KafkaConnection, topic: str, group_id: str, input_topic: str) -> None:
        self.conn = conn
        self.topic = topic
        self.prefix = f"{group_id}|{input_topic}|p"
        self.breakers_key = f"{group_id}|breakers"

    def key(self, partition: int, item: str) -> bytes:
        return f"{self.prefix}{partition}|{item}".encode()

    def load(
        self, partitions: list[int], config: RoutingConfig, silences: Silences
    ) -> tuple[dict[int, PartitionState], dict[str, Any]]:
        """The saved state of ``partitions`` (empty for one never saved) and the breakers."""
        wanted = set(partitions)
        items: dict[int, dict[str, dict[str, Any]]] = {
            p: {"a": {}, "g": {}, "o": {}, "t": {}} for p in partitions
        }
        breakers: dict[str, Any] = {}
        prefix, breakers_key = self.prefix.encode(), self.breakers_key.encode()
        for key, value in read_to_end(self.conn, self.topic):
            if key == breakers_key:
                breakers = orjson.loads(value) if value else {}
                continue
            if not key.startswith(prefix):
                continue
            part, sep, rest = key[len(prefix) :].decode().partition("|")
            kind, sep2, name = rest.partition("|")
            if not (sep and sep2 and part.isdigit()) or int(part) not in wanted:
                continue
            bucket = items[int(part)].get(kind)
            if bucket is None:
                continue
            if value is None:
                bucket.pop(name, None)
            else:
                bucket[name] = orjson.loads(value)
        out = {}
        for p in partitions:
            got = items[p]
            state = {"version": STATE_VERSION, "alerts": got["a"], "groups": got["g"]}
            router = Router(config, state=state, silences=silences)
            out[p] = PartitionState(p, router, outbox=got["o"], tickets=got["t"])
        return out, breakers

    async def save(self, producer: AsyncProducer, state: PartitionState) -> None:
        """Write what changed in ``state`` since its last save (awaited: acknowledged)."""
        sends = [
            producer.send(
                self.topic,
                self.key(state.partition, item),
                None if value is None else orjson.dumps(value),
            )
            for item, value in state.take_changes()
        ]
        if sends:
            await asyncio.gather(*sends)

    async def save_breakers(self, producer: AsyncProducer, breakers: dict[str, Any]) -> None:
        await producer.send(self.topic, self.breakers_key.encode(), orjson.dumps(breakers))
