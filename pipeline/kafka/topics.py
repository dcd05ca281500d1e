"""The pipeline's own topics and their configuration, from the declared table ``rules/topics.yaml``.

The table gives each topic role (``raw``, ``events``, ``dlq``, ``alerts``, ``router_in``,
``silences``, ``router_state``; the names are ``TopicsConfig`` settings) its cleanup policy,
``retention.ms`` and ``segment.ms``. Raw topics hold plaintext and are kept short; the DLQ is
short; ``audit.events`` keeps what replay and a lagging archiver region need. Every deleting
topic declares its segment length because Kafka deletes whole segments: a record can remain up
to retention + segment + the broker's retention check interval (see ``pipeline.kafka.retention``).

Every process that creates a pipeline topic takes its config from here (``pipeline_topics``);
``auditpipe topics apply|check`` makes existing topics match (``pipeline.kafka.topicsync``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import RuleError
from pipeline.kafka.admin import TopicSpec
from pipeline.settings import Settings
from pipeline.yamlfiles import load_mapping

log = logging.getLogger(__name__)

TABLE_FILE = "topics.yaml"  # in the rules directory

_UNITS_MS = {
    "ms": 1,
    "second": 1000,
    "minute": 60_000,
    "hour": 3_600_000,
    "day": 86_400_000,
    "week": 7 * 86_400_000,
}
_DURATION = re.compile(r"^\s*(\d{1,12})\s*([a-z]+)\s*$")


def parse_ms(value: Any) -> int:
    """``"3 days"`` → milliseconds; units ms, seconds, minutes, hours, days, weeks."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('a duration is text like "3 days" (ms, seconds, ..., weeks)')
    m = _DURATION.match(value.lower())
    unit = m.group(2) if m else ""
    unit = unit if unit == "ms" else unit.removesuffix("s")
    if m is None or unit not in _UNITS_MS:
        raise ValueError(
            f'{value[:40]!r} is not a duration like "3 days" (ms, seconds, ..., weeks)'
        )
    ms = int(m.group(1)) * _UNITS_MS[unit]
    if ms <= 0:
        raise ValueError("a duration must be longer than zero")
    return ms


Millis = Annotated[int, BeforeValidator(parse_ms)]


class TopicPolicy(BaseModel):
    """How long one topic role is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(min_length=1)
    cleanup: Literal["delete", "compact"] = "delete"
    retention: Millis | None = None
    segment: Millis | None = None
    max_message_bytes: int | None = Field(default=None, ge=1024)

    @model_validator(mode="after")
    def _bounded(self) -> TopicPolicy:
        if self.cleanup == "delete" and (self.retention is None or self.segment is None):
            raise ValueError(
                "a deleting topic declares retention and segment (Kafka deletes whole segments)"
            )
        if self.cleanup == "compact" and self.retention is not None:
            raise ValueError("a compacted topic keeps the last record per key: no retention")
        return self

    @property
    def bound_ms(self) -> int | None:
        """How long after its timestamp a record may remain, besides the broker's check
        interval (None: compacted, no time limit)."""
        if self.retention is None or self.segment is None:
            return None
        return self.retention + self.segment

    def config(self, replication_factor: int) -> dict[str, str]:
        """The topic configs this policy sets (the only keys ``topics check`` compares)."""
        out = {
            "min.insync.replicas": str(min(2, replication_factor)),
            "compression.type": "producer",
            "cleanup.policy": self.cleanup,
        }
        if self.cleanup == "compact":  # tombstones deleted; compaction may start at once
            out |= {"retention.ms": "-1", "min.compaction.lag.ms": "0"}
        if self.retention is not None:
            out["retention.ms"] = str(self.retention)
        if self.segment is not None:
            out["segment.ms"] = str(self.segment)
        if self.max_message_bytes is not None:
            out["max.message.bytes"] = str(self.max_message_bytes)
        return out


class TopicRoles(BaseModel):
    """One policy per role; every role is declared (no default retention anywhere)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw: TopicPolicy
    events: TopicPolicy
    dlq: TopicPolicy
    alerts: TopicPolicy
    router_in: TopicPolicy
    silences: TopicPolicy
    router_state: TopicPolicy


class TopicTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    topics: TopicRoles


NAMED_ROLES = ("events", "dlq", "alerts", "silences", "router_state", "router_in")
SINGLE_PARTITION = frozenset({"silences"})  # one ordered stream of silence changes


def load_table(path: Path) -> TopicTable:
    """Parse and check ``path``; every error is a RuleError with file and line."""
    doc, index = load_mapping(path, "topic table", "version, topics")
    try:
        return TopicTable.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        where = ".".join(str(p) for p in loc)
        raise RuleError(
            f"{where + ': ' if where else ''}{msg}", file=path, line=index.line(*loc)
        ) from None


def table_for(settings: Settings) -> TopicTable:
    """The table of ``settings.rules_dir``."""
    return load_table(settings.rules_dir / TABLE_FILE)


@dataclass(frozen=True)
class Declared:
    """A topic the table covers: its role, policy and the spec it is created with."""

    role: str
    policy: TopicPolicy
    spec: TopicSpec


def _spec(settings: Settings, role: str, policy: TopicPolicy, name: str) -> TopicSpec:
    t = settings.topics
    partitions = 1 if role in SINGLE_PARTITION else t.partitions
    return TopicSpec(name, partitions, t.replication_factor, policy.config(t.replication_factor))


def declared_topics(settings: Settings, table: TopicTable) -> list[Declared]:
    """The named topics (events, DLQ, alerts, the router's), in the table's order."""
    out = []
    for role in NAMED_ROLES:
        policy: TopicPolicy = getattr(table.topics, role)
        out.append(
            Declared(role, policy, _spec(settings, role, policy, getattr(settings.topics, role)))
        )
    return out


def declared_for(settings: Settings, table: TopicTable, name: str) -> Declared | None:
    """What the table says about topic ``name`` (a named role, else raw by pattern, else
    None: a topic the table does not manage)."""
    for d in declared_topics(settings, table):
        if d.spec.name == name:
            return d
    if re.match(settings.topics.raw_pattern, name):
        return Declared("raw", table.topics.raw, _spec(settings, "raw", table.topics.raw, name))
    return None


def raw_spec(settings: Settings, table: TopicTable, name: str) -> TopicSpec:
    """The spec of raw topic ``name`` (the raw policy)."""
    return _spec(settings, "raw", table.topics.raw, name)


def spec_for(
    settings: Settings,
    name: str,
    partitions: int | None = None,
    *,
    table: TopicTable | None = None,
) -> TopicSpec:
    """The spec to create topic ``name`` with: the table's policy when the table covers it (a
    raw topic by ``raw_pattern``: short retention, it holds plaintext), else a plain spec.
    ``partitions`` overrides the settings' count; ``table`` spares reading the rules
    directory's again. Without a readable table (a command run outside the project directory)
    the spec is plain, with a warning: such a topic is what ``topics check`` reports as
    drift."""
    try:
        declared = declared_for(settings, table or table_for(settings), name)
    except RuleError as exc:
        log.warning(
            "no topic table: a topic created now gets the broker's defaults",
            extra={"topic": name, "error": str(exc)},
        )
        declared = None
    t = settings.topics
    spec = declared.spec if declared else TopicSpec(name, t.partitions, t.replication_factor)
    return spec if partitions is None else replace(spec, partitions=partitions)


def pipeline_topics(settings: Settings, table: TopicTable | None = None) -> list[TopicSpec]:
    """audit.events, audit.dlq, audit.alerts, the router's input (alerts keyed by rule) and
    its (compacted) silences and state topics, configured as the table declares (the rules
    directory's ``topics.yaml`` unless ``table`` is given)."""
    t = table if table is not None else table_for(settings)
    return [d.spec for d in declared_topics(settings, t)]
