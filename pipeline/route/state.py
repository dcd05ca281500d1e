"""The router's durable state in a compacted topic, one record per item so a turn writes only
what changed (the equivalent of a faust changelog table, written explicitly so the stage can
await it before committing offsets).

Keys are ``<group id>|<input topic>|p<N>|<kind>|<name>`` for input partition ``N``:

* ``a|<dedup_key>``: an alert the router holds (:class:`HeldAlert`: for grouping, inhibition,
  resolution);
* ``g|<group key>``: a group (:class:`Group`: its alerts, next flush, what it last sent, when);
* ``o|<receiver>/<notification id>``: the **outbox** (:class:`Notification`), notifications
  decided but not yet finished delivering (re-delivered after a restart with the same
  ``Idempotency-Key``);
* ``t|<alert dedup_key>``: the ticket ledger (:class:`Ticket`: one ticket per dedup key).

A tombstone deletes an item. ``<group id>|breakers`` holds the circuit breakers by receiver
(:class:`BreakerRecord`). Every value is the JSON ``encode()`` of its type; ``decode()`` reads
it back strictly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import orjson

from pipeline.errors import StateRecordError
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.topicio import AsyncProducer, read_to_end
from pipeline.records import Record, as_int
from pipeline.route.config import RoutingConfig
from pipeline.route.engine import HeldAlert, Router, RouterState
from pipeline.route.grouping import Group, Notification
from pipeline.route.retry import BreakerRecord, decode_breakers, encode_breakers
from pipeline.route.silences import Silences

T = TypeVar("T")

#: how long the ledger remembers that a ticket exists for a dedup key
TICKET_MEMORY = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Ticket:
    """The ledger's entry for an alert dedup key: a ticket was created at ``created_us``.
    Its record is the bare integer."""

    created_us: int

    def encode(self) -> int:
        return self.created_us

    @classmethod
    def decode(cls, value: object) -> Ticket:
        return cls(as_int(value, "Ticket"))


@dataclass
class PartitionState:
    partition: int
    router: Router
    outbox: dict[str, Notification] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    _changed_outbox: set[str] = field(default_factory=set, init=False)
    _changed_tickets: set[str] = field(default_factory=set, init=False)

    def put_outbox(self, key: str, note: Notification) -> None:
        self.outbox[key] = note
        self._changed_outbox.add(key)

    def pop_outbox(self, key: str) -> None:
        if self.outbox.pop(key, None) is not None:
            self._changed_outbox.add(key)

    def add_ticket(self, key: str, now_us: int) -> None:
        self.tickets[key] = Ticket(now_us)
        self._changed_tickets.add(key)

    def pending(self) -> list[tuple[str, Notification]]:
        return sorted(self.outbox.items())

    def prune_tickets(self, now_us: int) -> None:
        horizon = now_us - TICKET_MEMORY // timedelta(microseconds=1)
        for key in [k for k, t in self.tickets.items() if t.created_us < horizon]:
            del self.tickets[key]
            self._changed_tickets.add(key)

    def take_changes(self) -> list[tuple[str, Record | int | None]]:
        """(kind|name, encoded record or None) for every item changed since the last call."""
        alerts, groups = self.router.take_changes()
        out: list[tuple[str, Record | int | None]] = [(f"a|{k}", v) for k, v in alerts.items()]
        out += [(f"g|{k}", v) for k, v in groups.items()]
        for k in self._changed_outbox:
            note = self.outbox.get(k)
            out.append((f"o|{k}", None if note is None else note.encode()))
        for k in self._changed_tickets:
            ticket = self.tickets.get(k)
            out.append((f"t|{k}", None if ticket is None else ticket.encode()))
        self._changed_outbox, self._changed_tickets = set(), set()
        return out

    def mark_changed(self, items: Iterable[str]) -> None:
        """Count ``items`` (names as ``take_changes`` gives them) as changed again: their
        write failed, so the next save writes them (with the values they have then)."""
        kinds: dict[str, set[str]] = {"a": set(), "g": set(), "o": set(), "t": set()}
        for item in items:
            kind, _, name = item.partition("|")
            kinds[kind].add(name)
        self.router.mark_changed(kinds["a"], kinds["g"])
        self._changed_outbox |= kinds["o"]
        self._changed_tickets |= kinds["t"]


def outbox_key(note: Notification) -> str:
    return f"{note.receiver}/{note.id}"


@dataclass
class _Loaded:
    """The records of one partition read so far (the last value per key)."""

    alerts: dict[str, HeldAlert] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    outbox: dict[str, Notification] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)

    def apply(self, kind: str, name: str, value: object | None) -> None:
        """Apply one record (``value`` decoded JSON, None for a tombstone)."""
        if kind == "a":
            _put(self.alerts, name, None if value is None else HeldAlert.decode(value))
        elif kind == "g":
            _put(self.groups, name, None if value is None else Group.decode(value))
        elif kind == "o":
            _put(self.outbox, name, None if value is None else Notification.decode(value))
        elif kind == "t":
            _put(self.tickets, name, None if value is None else Ticket.decode(value))


def _put(items: dict[str, T], name: str, value: T | None) -> None:
    if value is None:
        items.pop(name, None)
    else:
        items[name] = value


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
    ) -> tuple[dict[int, PartitionState], dict[str, BreakerRecord]]:
        """The saved state of ``partitions`` (empty for one never saved) and the breakers.

        A record that does not decode raises :class:`StateRecordError` naming its key."""
        wanted = set(partitions)
        items = {p: _Loaded() for p in partitions}
        breakers: dict[str, BreakerRecord] = {}
        prefix, breakers_key = self.prefix.encode(), self.breakers_key.encode()
        for key, value in read_to_end(self.conn, self.topic):
            try:
                if key == breakers_key:
                    breakers = decode_breakers(orjson.loads(value)) if value else {}
                    continue
                if not key.startswith(prefix):
                    continue
                part, sep, rest = key[len(prefix) :].decode().partition("|")
                kind, sep2, name = rest.partition("|")
                if not (sep and sep2 and part.isdigit()) or int(part) not in wanted:
                    continue
                decoded = None if value is None else orjson.loads(value)
                items[int(part)].apply(kind, name, decoded)
            except (StateRecordError, orjson.JSONDecodeError) as exc:
                raise StateRecordError(
                    f"record {key.decode(errors='replace')!r} of {self.topic}: {exc}",
                    topic=self.topic,
                    raw=value,
                ) from exc
        out = {}
        for p in partitions:
            got = items[p]
            router = Router(config, state=RouterState(got.alerts, got.groups), silences=silences)
            out[p] = PartitionState(p, router, outbox=got.outbox, tickets=got.tickets)
        return out, breakers

    async def save(self, producer: AsyncProducer, state: PartitionState) -> None:
        """Write what changed in ``state`` since its last save (awaited: acknowledged)."""
        changes = state.take_changes()
        sends = [
            producer.send(
                self.topic,
                self.key(state.partition, item),
                None if value is None else orjson.dumps(value),
            )
            for item, value in changes
        ]
        if not sends:
            return
        try:
            await asyncio.gather(*sends)
        except BaseException:
            # not acknowledged: the next save writes these items again (taken, they were lost
            # to every later save and a restart read their old values)
            state.mark_changed(item for item, _ in changes)
            raise

    async def save_breakers(
        self, producer: AsyncProducer, breakers: dict[str, BreakerRecord]
    ) -> None:
        value = orjson.dumps(encode_breakers(breakers))
        await producer.send(self.topic, self.breakers_key.encode(), value)
