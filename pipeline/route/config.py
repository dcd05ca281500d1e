"""The routing file (``rules/routing.yaml``): route tree, receivers and inhibition rules.

Modelled on Alertmanager's configuration: a root route with a default receiver and timings,
child routes with matchers that inherit ``receiver``, ``group_by`` and the timings from their
parent, ``continue`` to keep looking at siblings after a match, receivers by name, and
inhibition rules. Every error is a ``RuleError`` with the file and line.

Secrets are never in this file: receivers name the *environment variable* that holds them,
and :func:`resolve_secret` looks the name up in a mapping the caller passes (``os.environ``
in the stage; ``pipeline.settings`` is the only module that reads the environment itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.errors import ConfigError, RuleError
from pipeline.route.matchers import Matcher, check_label
from pipeline.yamlfiles import load_mapping

_DURATION = re.compile(
    r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds")
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


def parse_duration(value: Any) -> Any:
    """Prometheus-style durations (``30s``, ``5m``, ``4h``, ``1h30m``, ``1d``) to timedelta."""
    if not isinstance(value, str):
        return value
    found = _DURATION.match(value.strip())
    if not found or not any(found.groups()):
        raise ValueError(f"not a duration: {value!r} (e.g. 30s, 5m, 4h, 1h30m)")
    parts = {unit: int(n) for unit, n in zip(_UNITS, found.groups(), strict=True) if n}
    return timedelta(**parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration), Field(gt=timedelta(0))]
EnvName = Annotated[str, Field(pattern=ENV_NAME, description="name of an environment variable")]
ReceiverName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,62}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _ReceiverBase(_Model):
    name: ReceiverName
    send_resolved: bool = False


class KafkaReceiver(_ReceiverBase):
    """Notifications as JSON on a topic (``audit.notify.<name>`` unless set)."""

    type: Literal["kafka"]
    topic: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._\-]{1,249}$")

    @property
    def topic_name(self) -> str:
        return self.topic or f"audit.notify.{self.name}"


class WebhookReceiver(_ReceiverBase):
    """A generic JSON webhook, signed with HMAC-SHA256 (see ``payloads.sign``)."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://\S+$")
    secret_env: EnvName
    timeout: Duration = timedelta(seconds=10)
    max_retries: int = Field(default=5, ge=0, le=20)


class PagerDutyReceiver(_ReceiverBase):
    """PagerDuty Events API v2; resolves incidents by default."""

    type: Literal["pagerduty"]
    routing_key_env: EnvName
    send_resolved: bool = True
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://\S+$")


class SlackReceiver(_ReceiverBase):
    """A Slack-compatible incoming webhook. Its URL holds a token, so it is named by env var."""

    type: Literal["slack"]
    webhook_url_env: EnvName
    channel: str | None = None


class TicketReceiver(_ReceiverBase):
    """A ticket system's create endpoint; one ticket per alert ``dedup_key``."""

    type: Literal["ticket"]
    url: str = Field(pattern=r"^https?://\S+$")
    token_env: EnvName | None = None
    project: str | None = None


Receiver = Annotated[
    KafkaReceiver | WebhookReceiver | PagerDutyReceiver | SlackReceiver | TicketReceiver,
    Field(discriminator="type"),
]


def _check_labels(names: list[str]) -> list[str]:
    for name in names:
        check_label(name)
    return names


class Route(_Model):
    """One node of the tree; unset fields are inherited from the parent."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    receiver: str | None = None
    matchers: list[Matcher] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[Route] = Field(default_factory=list)

    @field_validator("group_by")
    @classmethod
    def _group_labels(cls, names: list[str] | None) -> list[str] | None:
        return names if names is None else _check_labels(names)


class RootRoute(Route):
    """The root: every alert enters here, so it needs a receiver. Unset values default to
    ``group_by: [rule_id]``, ``group_wait: 30s``, ``group_interval: 5m``,
    ``repeat_interval: 4h``."""

    receiver: str

    @model_validator(mode="after")
    def _root_rules(self) -> RootRoute:
        if self.matchers:
            raise ValueError("the root route matches every alert; it takes no matchers")
        if self.continue_:
            raise ValueError("the root route cannot have continue")
        return self


class InhibitRule(_Model):
    """While an alert matching ``source_matchers`` is active, alerts matching
    ``target_matchers`` with the same values of the ``equal`` labels are muted."""

    source_matchers: list[Matcher] = Field(min_length=1)
    target_matchers: list[Matcher] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)

    @field_validator("equal")
    @classmethod
    def _equal_labels(cls, names: list[str]) -> list[str]:
        return _check_labels(names)


class RoutingConfig(_Model):
    route: RootRoute
    receivers: list[Receiver] = Field(min_length=1)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    resolve_timeout: Duration = Field(
        default=timedelta(minutes=5),
        description="an alert stays active until its window_end (or ts) plus this",
    )
    max_alerts_per_notification: int = Field(default=50, ge=1, le=10_000)

    def receiver(self, name: str) -> Receiver:
        for r in self.receivers:
            if r.name == name:
                return r
        raise KeyError(name)


def resolve_secret(env_name: str, environ: Mapping[str, str]) -> SecretStr:
    """The secret held by environment variable ``env_name`` (``environ`` is passed in)."""
    value = environ.get(env_name)
    if not value:
        raise ConfigError(f"environment variable {env_name} (a receiver secret) is not set")
    return SecretStr(value)


def _routes(route: Route, path: tuple[str | int, ...]) -> Iterator[tuple[Route, tuple[Any, ...]]]:
    yield route, path
    for i, child in enumerate(route.routes):
        yield from _routes(child, (*path, "routes", i))


def _error_loc(loc: tuple[int | str, ...]) -> tuple[str | int, ...]:
    """pydantic's loc without the discriminator tags it inserts (``receivers.0.webhook.url``)."""
    if len(loc) >= 3 and loc[0] == "receivers" and isinstance(loc[1], int):
        return (*loc[:2], *loc[3:])
    return loc


def load_routing(path: Path) -> RoutingConfig:
    """Parse and validate the routing file; every error names the file and line."""
    doc, index = load_mapping(path, "routing file", "route, receivers, ...")
    try:
        config = RoutingConfig.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = _error_loc(tuple(first["loc"]))
        where = ".".join(str(p) for p in loc) or "(top)"
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise RuleError(f"{where}: {msg}", file=path, line=index.line(*loc)) from None
    names: set[str] = set()
    for i, receiver in enumerate(config.receivers):
        if receiver.name in names:
            raise RuleError(
                f"receivers.{i}.name: receiver {receiver.name!r} is defined twice",
                file=path,
                line=index.line("receivers", i, "name"),
            )
        names.add(receiver.name)
    for route, rpath in _routes(config.route, ("route",)):
        if route.receiver is not None and route.receiver not in names:
            raise RuleError(
                f"{'.'.join(map(str, rpath))}.receiver: unknown receiver {route.receiver!r} "
                f"(defined: {', '.join(sorted(names))})",
                file=path,
                line=index.line(*rpath, "receiver"),
            )
    return config
