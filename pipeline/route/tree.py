"""The compiled route tree: inheritance resolved, and the walk that picks routes for an alert.

Alertmanager's semantics: the root matches every alert; a node's children are tried in order;
the first matching child wins unless it has ``continue: true``, in which case the following
siblings are tried too; a node none of whose children match is itself the result. ``receiver``,
``group_by`` and the three timings are inherited; matchers and ``continue`` are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pipeline.route.config import RootRoute, Route
from pipeline.route.matchers import Matcher, matches_all


@dataclass(frozen=True, kw_only=True)
class RouteNode:
    """A route with every inherited value filled in; ``id`` is stable for an unchanged file."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...]
    group_wait_us: int
    group_interval_us: int
    repeat_interval_us: int
    children: tuple[RouteNode, ...]


#: what the root inherits when it leaves a value unset (Alertmanager's defaults, but grouping
#: by rule, which is what an audit alert is about)
DEFAULT_GROUP_BY = ("rule_id",)
DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


def _us(value: timedelta) -> int:
    return value // timedelta(microseconds=1)


def _compile(route: Route, parent: RouteNode, ident: str) -> RouteNode:
    node = RouteNode(
        id=route.name or ident,
        receiver=route.receiver if route.receiver is not None else parent.receiver,
        matchers=tuple(route.matchers),
        continue_=route.continue_,
        group_by=tuple(route.group_by) if route.group_by is not None else parent.group_by,
        group_wait_us=_us(route.group_wait) if route.group_wait else parent.group_wait_us,
        group_interval_us=(
            _us(route.group_interval) if route.group_interval else parent.group_interval_us
        ),
        repeat_interval_us=(
            _us(route.repeat_interval) if route.repeat_interval else parent.repeat_interval_us
        ),
        children=(),
    )
    children = tuple(
        _compile(child, node, child.name or f"{ident}.{i}") for i, child in enumerate(route.routes)
    )
    return replace(node, children=children)


def compile_tree(root: RootRoute) -> RouteNode:
    """The resolved tree; route ids are the ``name`` of a route or its index path (``root.0.1``)."""
    defaults = RouteNode(
        id="root",
        receiver=root.receiver,
        matchers=(),
        continue_=False,
        group_by=DEFAULT_GROUP_BY,
        group_wait_us=_us(DEFAULT_GROUP_WAIT),
        group_interval_us=_us(DEFAULT_GROUP_INTERVAL),
        repeat_interval_us=_us(DEFAULT_REPEAT_INTERVAL),
        children=(),
    )
    return _compile(root, defaults, "root")


def _walk(node: RouteNode, alert: Mapping[str, Any], is_root: bool) -> list[RouteNode]:
    if not is_root and not matches_all(node.matchers, alert):
        return []
    found: list[RouteNode] = []
    for child in node.children:
        got = _walk(child, alert, False)
        if got:
            found.extend(got)
            if not child.continue_:
                break
    return found or [node]


def match_routes(root: RouteNode, alert: Mapping[str, Any]) -> list[RouteNode]:
    """The routes (leaves of the walk) that take ``alert``, in tree order; never empty."""
    return _walk(root, alert, True)


def all_nodes(root: RouteNode) -> list[RouteNode]:
    out = [root]
    for child in root.children:
        out.extend(all_nodes(child))
    return out
