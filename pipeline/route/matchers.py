"""Label matchers in Alertmanager's syntax over alerts in the JSON form of ``alert.avsc``.

``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``; the value may be quoted
(``severity=~"HIGH|CRITICAL"``; see ``_unquote`` for escapes). Regexes are anchored at both
ends, as in Alertmanager. Labels of an alert: ``severity``, ``rule_id``, ``title``,
``service``, ``team``, ``dedup_key``, ``tags`` and ``group.<key>`` / ``details.<key>``. A
missing label is the empty string (so ``team=""`` matches an alert without a team).
``tags`` is a list: a positive matcher matches when any tag does, a negative one when no tag
matches the positive form.

Written by hand: no maintained Python library parses Alertmanager matchers; the grammar is a
single regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

Op = Literal["=", "!=", "=~", "!~"]

#: the scalar labels an alert has besides the ``group.*``/``details.*`` maps and ``tags``
SCALAR_LABELS = frozenset({"severity", "rule_id", "title", "service", "team", "dedup_key"})
_MAP_PREFIXES = ("group.", "details.")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_.\-]+)?"
_SYNTAX = re.compile(rf"^\s*({_NAME})\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


def check_label(name: str) -> str:
    """``name`` if it is a label an alert can have, else ValueError."""
    if name in SCALAR_LABELS or name == "tags":
        return name
    if name.startswith(_MAP_PREFIXES) and name.split(".", 1)[1]:
        return name
    known = ", ".join(sorted({*SCALAR_LABELS, "tags", "group.<key>", "details.<key>"}))
    raise ValueError(f"unknown alert label {name!r} (known: {known})")


def label_values(alert: Mapping[str, Any], name: str) -> list[str]:
    """The value(s) of label ``name`` of an alert; ``[""]`` when it is missing."""
    if name == "tags":
        return [str(t) for t in alert.get("tags") or []]
    if name.startswith(_MAP_PREFIXES):
        field, key = name.split(".", 1)
        value = (alert.get(field) or {}).get(key)
    else:
        value = alert.get(name)
    return ["" if value is None else str(value)]


def label_text(alert: Mapping[str, Any], name: str) -> str:
    """One string per label, for group keys and ``equal`` (tags sorted and joined by commas)."""
    values = label_values(alert, name)
    return ",".join(sorted(values)) if name == "tags" else values[0]


def _unquote(text: str) -> str:
    """Strip double quotes. Inside them a backslash escapes only a quote or a backslash; any
    other backslash stays as written, so a regex such as ``"attack\\.t1098"`` needs no doubling.
    """
    if len(text) >= 2 and text[0] == text[-1] == '"':
        out: list[str] = []
        body = text[1:-1]
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
                out.append(body[i + 1])
                i += 2
                continue
            if ch == '"':
                raise ValueError(f"unescaped quote inside {text}")
            out.append(ch)
            i += 1
        return "".join(out)
    if text.startswith('"') or text.endswith('"'):
        raise ValueError(f"unbalanced quotes in {text}")
    return text


def parse_matcher(text: str) -> dict[str, str]:
    """``'severity=~"HIGH|CRITICAL"'`` -> ``{"name": ..., "op": ..., "value": ...}``."""
    found = _SYNTAX.match(text)
    if not found:
        raise ValueError(
            f"not a matcher: {text!r} (expected name=value, name!=value, name=~re or name!~re)"
        )
    name, op, value = found.groups()
    return {"name": name, "op": op, "value": _unquote(value)}


class Matcher(BaseModel):
    """One compiled matcher. Accepts its string form or a mapping with name, op and value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return parse_matcher(data) if isinstance(data, str) else data

    @model_validator(mode="after")
    def _compile(self) -> Matcher:
        check_label(self.name)
        if self.op in ("=~", "!~"):
            try:
                self._regex = re.compile(f"^(?:{self.value})$")
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r}: {exc}") from None
        return self

    def _positive(self, value: str) -> bool:
        if self._regex is not None:
            return self._regex.match(value) is not None
        return value == self.value

    def matches(self, alert: Mapping[str, Any]) -> bool:
        values = label_values(alert, self.name)
        if self.name == "tags" and not values:
            values = [""]
        hit = any(self._positive(v) for v in values)
        return hit if self.op in ("=", "=~") else not hit

    def text(self) -> str:
        """The canonical string form (round-trips through ``Matcher.model_validate``)."""
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], alert: Mapping[str, Any]) -> bool:
    return all(m.matches(alert) for m in matchers)
