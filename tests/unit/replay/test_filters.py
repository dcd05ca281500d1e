"""Filter expressions: grammar, comparisons by type, errors that name the position."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pipeline.errors import ConfigError
from pipeline.replay.filters import compile_filters
from tests.unit.replay.conftest import GOLDEN


def match(*exprs: str, doc: dict[str, Any] | None = None) -> bool:
    return compile_filters(exprs)(doc if doc is not None else GOLDEN)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("category=DATA_ACCESS", True),
        ("category=AUTHN", False),
        ("outcome!=SUCCESS", False),
        ("outcome != FAILURE", True),
        ("actor.id=user-1842", True),
        ("http.status>=400", False),
        ("http.status<400", True),
        ("http.status=200", True),
        ("http.status>abc", False),
        ("data.record_count>11999.5", True),
        ("trace_id=4bf92f3577b34da6a3ce929d0e0e4736", True),
        ("ts>=2026-11-01T10:00:00Z", True),
        ("ts<2026-11-01T10:00:00.123456Z", False),
        ("ts<=2026-11-01T11:00:00+01:00", False),
        ("ts<2026-11-01T11:00:00+00:00", True),
        ("details.reason='quarterly close'", True),
        ('details.reason="quarterly close"', True),
        ("actor.roles=analyst", True),
        ("actor.roles!=analyst", False),
        ("actor.roles!=admin", True),
        ("target=invoices", False),
        ("missing.field=x", False),
        ("missing.field!=x", True),
        ("missing.field=null", True),
        ("span_id!=null", True),
        ("category IN (AUTHN, DATA_ACCESS)", True),
        ("category in (AUTHN,AUTHZ)", False),
        ("category NOT IN (AUTHN,AUTHZ)", True),
        ("http.status IN (200, 204)", True),
        ("category=AUTHN OR outcome=SUCCESS", True),
        ("category=AUTHN OR outcome=FAILURE", False),
        ("category=DATA_ACCESS AND outcome=SUCCESS AND http.status=200", True),
        ("category=AUTHN AND outcome=SUCCESS OR http.status=200", True),  # AND binds tighter
        ("category=AUTHN AND (outcome=SUCCESS OR http.status=200)", False),
    ],
)
def test_expressions(expr: str, expected: bool) -> None:
    assert match(expr) is expected


def test_several_filters_are_anded() -> None:
    assert match("category=DATA_ACCESS", "outcome=SUCCESS")
    assert not match("category=DATA_ACCESS", "outcome=FAILURE")
    assert compile_filters([])(GOLDEN)


def test_fields_lists_paths_never_values() -> None:
    flt = compile_filters(["actor.id=ps:k1:abc", "category IN (AUTHN) OR http.status>1"])
    assert flt.fields == ["actor.id", "category", "http.status"]
    assert "ps:k1:abc" not in orjson.dumps(flt.fields).decode()


@pytest.mark.parametrize(
    ("expr", "where"),
    [
        ("", "empty"),
        ("category", "character 9"),
        ("category=", "character 10"),
        ("=AUTHN", "character 1"),
        ("category=AUTHN AND", "character 19"),
        ("category IN AUTHN", "character 13"),
        ("category IN (A, B", "character 18"),
        ("(category=AUTHN", "character 16"),
        ("category=A outcome=B", "character 12"),
        ("9bad=1", "field path"),
    ],
)
def test_errors_name_where(expr: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        compile_filters([expr])
