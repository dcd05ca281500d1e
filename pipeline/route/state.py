"""The router's durable state: one record per input partition in a compacted topic.

A record (key ``<group id>|<alerts topic>|p<N>``) holds everything needed to resume that
partition without losing or repeating a page:

* ``router``: the :class:`~pipeline.route.engine.Router` state (alerts, groups, what each
  group last sent and when);
* ``outbox``: notifications decided but not yet finished delivering (re-delivered after a
  restart with the same ``Idempotency-Key``);
* ``tickets``: alert dedup keys that already have a ticket (tickets are created once).

One more record, ``<group id>|breakers``, holds the circuit breakers by receiver. This is
the equivalent of a faust changelog table, written explicitly so the stage can await it
before committing offsets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from pipeline.kafka.config import KafkaConnection
from pipeline.route.config import RoutingConfig
from pipeline.route.engine import Router
from pipeline.route.grouping import Notification
from pipeline.route.kafkaio import AsyncProducer, read_to_end
from pipeline.route.silences import Silences

#: how long the ledger remembers that a ticket exists for a dedup key
TICKET_MEMORY = timedelta(days=30)


@dataclass
class PartitionState:
    partition: int
    router: Router
    outbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "router": self.router.state_to_json(),
            "outbox": self.outbox,
            "tickets": self.tickets,
        }

    def pending(self) -> list[tuple[str, Notification]]:
        return [(k, Notification.from_json(v)) for k, v in sorted(self.outbox.items())]

    def prune_tickets(self, now_us: int) -> None:
        horizon = now_us - TICKET_MEMORY // timedelta(microseconds=1)
        for key in [k for k, t in self.tickets.items() if t < horizon]:
            del self.tickets[key]


def outbox_key(note: Notification) -> str:
    return f"{note.receiver}/{note.id}"


class StateStore:
    def __init__(self, conn: KafkaConnection, topic: str, group_id: str, alerts_topic: str) -> None:
        self.conn = conn
        self.topic = topic
        self.prefix = f"{group_id}|{alerts_topic}|p"
        self.breakers_key = f"{group_id}|breakers"

    def key(self, partition: int) -> bytes:
        return f"{self.prefix}{partition}".encode()

    def load(
        self, partitions: list[int], config: RoutingConfig, silences: Silences
    ) -> tuple[dict[int, PartitionState], dict[str, Any]]:
        """The saved state of ``partitions`` (fresh for one never saved) and the breakers."""
        wanted = {self.key(p): p for p in partitions}
        docs: dict[int, Mapping[str, Any] | None] = {}
        breakers: dict[str, Any] = {}
        for key, value in read_to_end(self.conn, self.topic):
            if key in wanted:
                docs[wanted[key]] = orjson.loads(value) if value else None
            elif key == self.breakers_key.encode():
                breakers = orjson.loads(value) if value else {}
        out = {}
        for p in partitions:
            doc = docs.get(p)
            router = Router(config, state=doc["router"] if doc else None, silences=silences)
            out[p] = PartitionState(
                p,
                router,
                outbox=dict(doc["outbox"]) if doc else {},
                tickets=dict(doc["tickets"]) if doc else {},
            )
        return out, breakers

    async def save(self, producer: AsyncProducer, state: PartitionState) -> None:
        await producer.send(self.topic, self.key(state.partition), orjson.dumps(state.to_json()))

    async def save_breakers(self, producer: AsyncProducer, breakers: dict[str, Any]) -> None:
        await producer.send(self.topic, self.breakers_key.encode(), orjson.dumps(breakers))
