"""Silences: time-bounded mutes set by people, Alertmanager-style.

A silence mutes every alert its matchers all match while ``starts_at <= now < ends_at``. Its
JSON form (:meth:`Silence.to_json`) is stable so silences can live in a compacted Kafka topic
keyed by :attr:`Silence.key` (the id); deleting one is a tombstone for that key. Silences are
applied when a group is flushed, so one created after an alert arrived still mutes it, and
an alert it muted is sent as new once it expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from pipeline.events.jsonform import format_ts
from pipeline.route.matchers import Matcher, matches_all


class Silence(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")
    matchers: list[Matcher] = Field(min_length=1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str = Field(min_length=1)
    comment: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    @property
    def key(self) -> str:
        """The record key in the silences topic."""
        return self.id

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def expired(self, now: datetime) -> bool:
        return now >= self.ends_at

    def mutes(self, alert: Mapping[str, Any], now: datetime) -> bool:
        return self.active(now) and matches_all(self.matchers, alert)

    def to_json(self) -> dict[str, Any]:
        """Stable JSON form: matchers as canonical strings, RFC 3339 UTC timestamps."""
        return {
            "id": self.id,
            "matchers": [m.text() for m in self.matchers],
            "starts_at": format_ts(self.starts_at),
            "ends_at": format_ts(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Silence:
        return cls.model_validate(doc)


class Silences:
    """The current silences by id: fed from the silences topic, consulted at flush time."""

    def __init__(self, silences: list[Silence] | None = None) -> None:
        self._by_id: dict[str, Silence] = {s.id: s for s in silences or []}

    def put(self, silence: Silence) -> None:
        self._by_id[silence.id] = silence

    def delete(self, silence_id: str) -> None:
        self._by_id.pop(silence_id, None)

    def get(self, silence_id: str) -> Silence | None:
        return self._by_id.get(silence_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Silence]:
        return list(self._by_id.values())

    def active(self, now: datetime) -> list[Silence]:
        return [s for s in self._by_id.values() if s.active(now)]

    def muting(self, alert: Mapping[str, Any], now: datetime) -> Silence | None:
        """The first active silence that mutes ``alert``, if any."""
        for silence in self._by_id.values():
            if silence.mutes(alert, now):
                return silence
        return None

    def expire(self, now: datetime) -> list[str]:
        """Drop the expired silences; their ids (to tombstone in the topic)."""
        gone = [k for k, s in self._by_id.items() if s.expired(now)]
        for k in gone:
            del self._by_id[k]
        return gone
