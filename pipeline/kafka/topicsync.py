"""Make the broker's topics match the declared table (``auditpipe topics apply|check``).

:func:`plan` lists the table's named topics that are missing (to create) and, for every
existing topic the table covers (the named ones and every raw topic), each declared config
whose value on the broker differs (to set). :func:`apply_plan` creates, then sets the configs
with incremental AlterConfigs (only the declared keys; nothing else of a topic is touched), so a
second apply finds nothing to do. Topics the table does not cover (notification topics, the
detector's internal topics, ``__consumer_offsets``) are listed as unmanaged, never changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaException

# public names of confluent_kafka.admin, re-exported there without `as` (mypy's strict view)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from pipeline.errors import RetryableError
from pipeline.kafka import topics
from pipeline.kafka.admin import TopicSpec, ensure_topics
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings


@dataclass(frozen=True, order=True)
class Change:
    """One declared config of an existing topic that the broker holds differently."""

    topic: str
    key: str
    current: str | None  # None: not set on the broker
    wanted: str

    def describe(self) -> str:
        return f"~ {self.topic}: {self.key} {self.current or '(unset)'} -> {self.wanted}"


@dataclass(frozen=True)
class TopicPlan:
    create: tuple[TopicSpec, ...]
    alter: tuple[Change, ...]
    managed: tuple[str, ...]  # existing topics the table covers
    unmanaged: tuple[str, ...]

    @property
    def in_sync(self) -> bool:
        return not self.create and not self.alter

    def lines(self) -> list[str]:
        out = [
            f"+ {s.name} ({s.partitions} partitions; "
            + ", ".join(f"{k}={v}" for k, v in sorted(s.config.items()))
            + ")"
            for s in self.create
        ]
        return out + [c.describe() for c in self.alter]


def topic_configs(
    admin: AdminClient, names: Iterable[str], timeout: float = 30.0
) -> dict[str, dict[str, str | None]]:
    """The broker's current value of every config of each topic."""
    resources = [ConfigResource(ResourceType.TOPIC, n) for n in names]
    if not resources:
        return {}
    out: dict[str, dict[str, str | None]] = {}
    try:
        for res, fut in admin.describe_configs(resources, request_timeout=timeout).items():
            entries: Mapping[str, ConfigEntry] = fut.result(timeout=timeout)
            out[str(res.name)] = {k: e.value for k, e in entries.items()}
    except KafkaException as exc:
        raise RetryableError(f"could not describe topic configs: {exc.args[0]}") from exc
    return out


def existing_topics(admin: AdminClient, timeout: float = 30.0) -> dict[str, int]:
    """Every topic on the broker but Kafka's internal ones, with its partition count."""
    try:
        md = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise RetryableError(f"could not list topics: {exc.args[0]}") from exc
    return {n: len(t.partitions) for n, t in md.topics.items() if not n.startswith("__")}


def plan(
    admin: AdminClient,
    settings: Settings,
    table: topics.TopicTable,
    *,
    raw: Iterable[str] = (),
    only: Iterable[str] | None = None,
    timeout: float = 30.0,
) -> TopicPlan:
    """What ``apply`` would do. ``raw`` names raw topics to create too (``audit.raw.NAME``
    topics are otherwise created by their producers); ``only`` limits the plan to those topics."""
    existing = existing_topics(admin, timeout)
    wanted = [d.spec for d in topics.declared_topics(settings, table)]
    wanted += [topics.raw_spec(settings, table, n) for n in raw]
    keep = set(only) if only is not None else None
    create = tuple(s for s in wanted if s.name not in existing and (keep is None or s.name in keep))
    declared = {}
    unmanaged = []
    for name in sorted(existing):
        if keep is not None and name not in keep:
            continue
        d = topics.declared_for(settings, table, name)
        if d is None:
            unmanaged.append(name)
        else:
            declared[name] = d.spec.config
    current = topic_configs(admin, declared, timeout)
    alter = tuple(
        sorted(
            Change(name, key, current.get(name, {}).get(key), value)
            for name, config in declared.items()
            for key, value in config.items()
            if current.get(name, {}).get(key) != value
        )
    )
    return TopicPlan(create, alter, tuple(sorted(declared)), tuple(unmanaged))


def apply_plan(
    conn: KafkaConnection, admin: AdminClient, p: TopicPlan, timeout: float = 30.0
) -> None:
    """Create the missing topics, then set the differing configs (incrementally)."""
    ensure_topics(conn, p.create, timeout)
    by_topic: dict[str, list[Change]] = defaultdict(list)
    for c in p.alter:
        by_topic[c.topic].append(c)
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(c.key, c.wanted, incremental_operation=AlterConfigOpType.SET)
                for c in changes
            ],
        )
        for name, changes in sorted(by_topic.items())
    ]
    if not resources:
        return
    for res, fut in admin.incremental_alter_configs(resources, request_timeout=timeout).items():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            raise RetryableError(
                f"could not alter the configs of {res.name}: {exc.args[0]}"
            ) from exc
