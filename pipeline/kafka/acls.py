"""ACLs as code: ``deploy/kafka/acls.yaml`` is the truth about who may do what on the broker.

The file declares, per principal, ALLOW grants (resource type, name, literal or prefixed,
operations). :func:`plan` compares them with the broker's ACLs (``describe_acls``) and gives
what to add and what to remove; :func:`apply_plan` carries it out (``create_acls`` then
``delete_acls`` with exact filters), so applying twice changes nothing the second time.

The file is the whole truth: an ACL on the broker that the file does not declare is drift and
``apply`` removes it, whoever it names, with one exception: the break-glass grants of the file
(``break_glass.grants``) while break-glass is open, reported as such and left alone (opening and
closing them is the break-glass command's job).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from confluent_kafka import KafkaException

# public names of confluent_kafka.admin, re-exported there without `as` (mypy's strict view)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import ConfigError, RetryableError

Operation = Literal[
    "all",
    "read",
    "write",
    "create",
    "delete",
    "alter",
    "describe",
    "cluster_action",
    "describe_configs",
    "alter_configs",
    "idempotent_write",
]
ResourceKind = Literal["topic", "group", "cluster", "transactional_id"]
CLUSTER_NAME = "kafka-cluster"


class Grant(BaseModel):
    """ALLOW ``operations`` on the resources ``name`` names (exactly, or by prefix)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: ResourceKind
    name: str = Field(min_length=1)
    pattern: Literal["literal", "prefixed"] = "literal"
    operations: tuple[Operation, ...] = Field(min_length=1)
    host: str = "*"

    @field_validator("name")
    @classmethod
    def _no_wildcard(cls, v: str) -> str:
        if v == "*":
            raise ValueError("'*' (every resource) is not allowed here; name the resources")
        return v


class PrincipalAcls(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(min_length=1)
    super_user: bool = Field(
        default=False, description="documentation: a super user of the broker needs no ACL"
    )
    allow: tuple[Grant, ...] = ()


class BreakGlassAcls(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    principal: str = "break-glass"
    max_ttl_s: int = Field(default=4 * 3600, ge=60)
    grants: tuple[Grant, ...] = Field(min_length=1)


class AclFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    principals: dict[str, PrincipalAcls] = Field(min_length=1)
    break_glass: BreakGlassAcls

    @field_validator("principals")
    @classmethod
    def _names(cls, v: dict[str, PrincipalAcls]) -> dict[str, PrincipalAcls]:
        for name in v:
            if not name or any(c in name for c in ":,;= "):
                raise ValueError(f"principal name {name!r}: no ':', ',', ';', '=' or space")
        return v


def load_file(path: Path) -> AclFile:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        parsed = AclFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    bg = parsed.break_glass.principal
    if bg in parsed.principals and parsed.principals[bg].allow:
        raise ConfigError(f"{path}: {bg} must have no standing ACLs (only break-glass grants)")
    return parsed


@dataclass(frozen=True, order=True)
class Entry:
    """One ACL as the broker stores it (ALLOW only: the file declares no DENY)."""

    principal: str  # without "User:"
    resource: str
    name: str
    pattern: str
    operation: str
    host: str = "*"
    permission: str = "allow"

    def describe(self) -> str:
        how = f" ({self.pattern})" if self.pattern != "literal" else ""
        perm = "" if self.permission == "allow" else f" [{self.permission.upper()}]"
        return f"User:{self.principal} {self.operation} {self.resource}:{self.name}{how}{perm}"


def _entries(principal: str, grants: Iterable[Grant]) -> set[Entry]:
    return {
        Entry(principal, g.resource, g.name, g.pattern, op, g.host)
        for g in grants
        for op in g.operations
    }


def desired(acls: AclFile) -> set[Entry]:
    out: set[Entry] = set()
    for name, p in acls.principals.items():
        out |= _entries(name, p.allow)
    return out


def break_glass_entries(acls: AclFile) -> set[Entry]:
    return _entries(acls.break_glass.principal, acls.break_glass.grants)


@dataclass(frozen=True)
class Plan:
    add: tuple[Entry, ...]
    remove: tuple[Entry, ...]
    break_glass_open: bool

    @property
    def in_sync(self) -> bool:
        return not self.add and not self.remove

    def lines(self) -> list[str]:
        out = [f"+ {e.describe()}" for e in self.add]
        out += [f"- {e.describe()}" for e in self.remove]
        return out


def plan(acls: AclFile, current: set[Entry]) -> Plan:
    want = desired(acls)
    glass = break_glass_entries(acls)
    is_open = bool(glass) and glass <= current
    extra = current - want - (glass if is_open else set())
    return Plan(tuple(sorted(want - current)), tuple(sorted(extra)), is_open)


# --- the broker side -------------------------------------------------------------------------

_RESOURCE = {
    "topic": "TOPIC",
    "group": "GROUP",
    "cluster": "BROKER",
    "transactional_id": "TRANSACTIONAL_ID",
}
_RESOURCE_BACK = {v: k for k, v in _RESOURCE.items()}


def _fields(e: Entry) -> tuple[Any, ...]:
    """The positional fields a binding and a filter of ``e`` share (no ANY in them)."""
    return (
        ResourceType[_RESOURCE[e.resource]],
        e.name,
        ResourcePatternType[e.pattern.upper()],
        f"User:{e.principal}",
        e.host,
        AclOperation[e.operation.upper()],
        AclPermissionType[e.permission.upper()],
    )


def to_binding(e: Entry) -> AclBinding:
    """The confluent-kafka binding of ``e``."""
    return AclBinding(*_fields(e))


def to_filter(e: Entry) -> AclBindingFilter:
    """The filter that matches exactly the binding of ``e``."""
    return AclBindingFilter(*_fields(e))


def _name(value: Enum | str | int) -> str:
    return value.name if isinstance(value, Enum) else str(value)


def from_binding(b: AclBinding) -> Entry:
    principal = str(b.principal)
    return Entry(
        principal.split(":", 1)[1] if principal.startswith("User:") else principal,
        _RESOURCE_BACK.get(_name(b.restype), _name(b.restype).lower()),
        str(b.name),
        _name(b.resource_pattern_type).lower(),
        _name(b.operation).lower(),
        str(b.host),
        _name(b.permission_type).lower(),
    )


def current_acls(admin: AdminClient, timeout: float = 30.0) -> set[Entry]:
    """Every ACL on the broker."""
    # None: any name, principal and host (the stubs say str; the library takes None)
    flt = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    try:
        bindings = admin.describe_acls(flt, request_timeout=timeout).result(timeout=timeout)
    except KafkaException as exc:
        raise RetryableError(f"could not describe the broker's ACLs: {exc}") from exc
    return {from_binding(b) for b in bindings}


def create(admin: AdminClient, entries: Iterable[Entry], timeout: float = 30.0) -> None:

    bindings = [to_binding(e) for e in entries]
    if not bindings:
        return
    for binding, fut in admin.create_acls(bindings, request_timeout=timeout).items():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            raise RetryableError(f"could not create ACL {binding}: {exc}") from exc


def delete(admin: AdminClient, entries: Iterable[Entry], timeout: float = 30.0) -> None:
    """Delete exactly these ACLs (each filter matches one binding: no ANY in it)."""

    filters = [to_filter(e) for e in entries]
    if not filters:
        return
    for flt, fut in admin.delete_acls(filters, request_timeout=timeout).items():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            raise RetryableError(f"could not delete ACL {flt}: {exc}") from exc


def wait_until(
    admin: AdminClient,
    *,
    present: Iterable[Entry] = (),
    absent: Iterable[Entry] = (),
    timeout: float = 30.0,
) -> None:
    """Return once the broker's authorizer lists every ``present`` entry and none of ``absent``.

    DescribeAcls is answered from the broker's own authorizer cache, so when it shows a change
    the broker enforces it (a created or deleted ACL reaches it through the metadata log a few
    milliseconds after the controller acknowledged it)."""
    want, gone = set(present), set(absent)
    deadline = time.monotonic() + timeout
    while True:
        now = current_acls(admin, timeout)
        if want <= now and not (gone & now):
            return
        if time.monotonic() > deadline:
            raise RetryableError(f"ACL changes not visible on the broker after {timeout:.0f}s")
        time.sleep(0.1)


def apply_plan(admin: AdminClient, p: Plan, timeout: float = 30.0) -> None:
    """Carry out ``p``; return once the broker enforces it."""
    create(admin, p.add, timeout)
    delete(admin, p.remove, timeout)
    wait_until(admin, present=p.add, absent=p.remove, timeout=timeout)
