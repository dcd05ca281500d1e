from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.route.matchers import Matcher

from .helpers import alert


@pytest.mark.parametrize(
    ("text", "over", "expected"),
    [
        ('severity="HIGH"', {}, True),
        ("severity=HIGH", {}, True),
        ('severity="CRITICAL"', {}, False),
        ('severity!="CRITICAL"', {}, True),
        ('severity=~"HIGH|CRITICAL"', {}, True),
        ('severity=~"HIG"', {}, False),  # anchored: no partial match
        ('severity!~"HIGH|CRITICAL"', {}, False),
        ('rule_id=~"auth\\..*"', {}, True),
        ('tags="attack.t1078"', {}, True),  # any tag
        ('tags=~"attack\\.t11.*"', {}, True),
        ('tags!="attack.t1078"', {}, False),  # no tag may equal it
        ('tags!="attack.t9999"', {}, True),
        ('service="billing-api"', {"service": "billing-api"}, True),
        ('service=""', {}, True),  # missing label is empty
        ('service!=""', {}, False),
        ('team="sec"', {"team": "sec"}, True),
        ('group.actor.id="u1"', {}, True),
        ('group.actor.id="u2"', {}, False),
        ('details.revision=~"[0-9]+"', {"details": {"revision": "3"}}, True),
        ('details.revision=~"[0-9]+"', {}, False),
        ('title=~".*Brute.*"', {}, True),
        ('tags=""', {"tags": []}, True),
    ],
)
def test_matcher_forms(text: str, over: dict[str, object], expected: bool) -> None:
    assert Matcher.model_validate(text).matches(alert(**over)) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("severity HIGH", "not a matcher"),
        ('severity=~"(HIGH"', "invalid regex"),
        ('actor="x"', "unknown alert label"),
        ('severity="HIGH', "unbalanced quotes"),
        ('severity="HI"GH"', "unescaped quote"),
        ("group.=x", "not a matcher"),
    ],
)
def test_bad_matchers(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Matcher.model_validate(text)


def test_mapping_form_and_escapes() -> None:
    m = Matcher.model_validate({"name": "title", "op": "=", "value": 'say "hi" \\o/'})
    assert m.text() == 'title="say \\"hi\\" \\\\o/"'
    assert Matcher.model_validate(m.text()) == m


@given(
    name=st.sampled_from(["severity", "rule_id", "tags", "group.k", "details.x"]),
    op=st.sampled_from(["=", "!=", "=~", "!~"]),
    value=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
def test_text_form_round_trips(name: str, op: str, value: str) -> None:
    if op in ("=~", "!~"):
        value = "".join(c for c in value if c.isalnum())
    m = Matcher.model_validate({"name": name, "op": op, "value": value})
    assert Matcher.model_validate(m.text()) == m


@given(value=st.text(max_size=10), other=st.text(max_size=10))
def test_negation_is_the_complement(value: str, other: str) -> None:
    doc = alert(team=other)
    pos = Matcher.model_validate({"name": "team", "op": "=", "value": value})
    neg = Matcher.model_validate({"name": "team", "op": "!=", "value": value})
    assert pos.matches(doc) != neg.matches(doc)
