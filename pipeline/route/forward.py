"""The router's first hop: ``audit.alerts`` (keyed by ``dedup_key``) re-keyed by ``rule_id``.

Alertmanager's grouping and inhibition compare alerts with *different* dedup keys (a storm of
one rule over many actors is one group; a CRITICAL alert inhibits a HIGH one of the same
rule). For a group to live in one router instance, its alerts must share an input partition:
this hop produces every alert unchanged to the router's input topic keyed by its ``rule_id``,
so every group whose ``group_by`` includes ``rule_id`` (and every inhibition whose ``equal``
does) is partition-local, and the router still scales by partitions. It is the sanitizer's
at-least-once batch loop (``pipeline.kafka.stage``): offsets committed after the outputs are
acknowledged; a duplicate after a crash is an update the router already knows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from confluent_kafka import Message

from pipeline.errors import RetryableError
from pipeline.events.serde import AvroSerde
from pipeline.kafka.stage import Output
from pipeline.route.config import RoutingConfig
from pipeline.route.tree import all_nodes, compile_tree

log = logging.getLogger(__name__)
PARTITION_LABEL = "rule_id"


class ByRule:
    """``Processor`` of the hop: same bytes, new key."""

    def __init__(self, serde: AvroSerde, out_topic: str) -> None:
        self.serde = serde
        self.out_topic = out_topic
        self.skipped = 0

    def process(self, msg: Message) -> Sequence[Output]:
        value = msg.value()
        if value is None:
            return []
        try:
            datum = self.serde.deserialize(value, msg.topic() or "")
        except RetryableError:
            raise  # the registry did not answer: the hop's stage retries the record
        except Exception as exc:  # not an alert: nothing to route (logged, counted)
            self.skipped += 1
            log.warning(
                "record on the alerts topic skipped",
                extra={"error": type(exc).__name__, "partition": msg.partition()},
            )
            return []
        return [Output(self.out_topic, str(datum["rule_id"]).encode(), value)]


def partition_warnings(config: RoutingConfig) -> list[str]:
    """Routes and inhibition rules that compare alerts across rules: they still work, but
    only among alerts that share a partition of the router's input."""
    out = []
    for node in all_nodes(compile_tree(config.route)):
        if PARTITION_LABEL not in node.group_by:
            out.append(f"route {node.id}: group_by without rule_id groups per input partition")
    for i, rule in enumerate(config.inhibit_rules):
        if PARTITION_LABEL not in rule.equal:
            out.append(f"inhibit_rules.{i}: equal without rule_id inhibits per input partition")
    return out
