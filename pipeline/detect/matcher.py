"""Compile a pySigma condition tree into a predicate over JSON-form events.

pySigma parses the rule and applies the modifiers; what reaches us is a tree of AND/OR/NOT over
``field = value`` leaves whose value type encodes the modifier (``SigmaString`` with wildcards for
``contains``/``startswith``/``endswith``, ``SigmaRegularExpression`` for ``re``,
``SigmaCIDRExpression`` for ``cidr``, ``SigmaCompareExpression`` for ``gt``/``gte``/``lt``/``lte``,
``SigmaExists`` for ``exists``). Matching follows Sigma: strings compare case-insensitively
(``cased`` makes them exact), a list-valued field matches when any element does, a number matches
its decimal text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import re2  # type: ignore[import-untyped]
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from pipeline.detect.fields import Getter, getter

Predicate = Callable[[dict[str, Any]], bool]
ValueTest = Callable[[Any], bool]

#: the modifiers the evaluator implements; any other is a lint error
SUPPORTED_MODIFIERS = frozenset(
    {
        "contains",
        "startswith",
        "endswith",
        "re",
        "i",
        "ignorecase",
        "m",
        "multiline",
        "s",
        "dotall",
        "cidr",
        "all",
        "gt",
        "gte",
        "lt",
        "lte",
        "exists",
        "cased",
        "neq",
    }
)


class UnsupportedError(ValueError):
    """A construct pySigma accepts but this evaluator does not implement."""


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _on_scalars(test: ValueTest) -> ValueTest:
    """Apply ``test`` to a scalar, or to any element of a list."""

    def run(value: Any) -> bool:
        if isinstance(value, list):
            return any(test(v) for v in value)
        return test(value)

    return run


def _string_test(value: SigmaString) -> ValueTest:
    cased = isinstance(value, SigmaCasedString)
    parts = value.s
    plain = [p for p in parts if isinstance(p, str)]
    specials = [p for p in parts if not isinstance(p, str)]
    if any(not isinstance(p, str | SpecialChars) for p in parts):
        raise UnsupportedError("placeholders are not supported")
    norm: Callable[[str], str] = (lambda s: s) if cased else str.casefold
    multi = SpecialChars.WILDCARD_MULTI
    if not specials:
        want = norm("".join(plain))
        return lambda v: (t := _text(v)) is not None and norm(t) == want
    if len(plain) == 1 and all(s == multi for s in specials):
        needle = norm(plain[0])
        if parts == [multi, plain[0], multi]:
            return lambda v: (t := _text(v)) is not None and needle in norm(t)
        if parts == [plain[0], multi]:
            return lambda v: (t := _text(v)) is not None and norm(t).startswith(needle)
        if parts == [multi, plain[0]]:
            return lambda v: (t := _text(v)) is not None and norm(t).endswith(needle)
    # wildcards on RE2 too: ``*a*a*a*b`` would backtrack polynomially in Python's re
    options = re2.Options()
    options.log_errors = False
    prefix = "(?s)" if cased else "(?is)"
    pattern = re2.compile(prefix + str(value.to_regex().regexp), options)
    return lambda v: (t := _text(v)) is not None and pattern.fullmatch(t) is not None


_RE2_FLAGS = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}


def _regex_test(value: SigmaRegularExpression) -> ValueTest:
    """``|re`` on RE2: linear in the text whatever the pattern (``(a+)+$`` cannot backtrack);
    a pattern RE2 cannot run (backreferences, lookaround) is a rule error saying so."""
    inline = "".join(
        sorted({_RE2_FLAGS[SigmaRegularExpression.sigma_to_python_flags[f]] for f in value.flags})
    )
    options = re2.Options()
    options.log_errors = False
    try:
        pattern = re2.compile((f"(?{inline})" if inline else "") + str(value.regexp), options)
    except re2.error as exc:
        reason = (
            exc.args[0].decode(errors="replace")
            if exc.args and isinstance(exc.args[0], bytes)
            else str(exc)
        )
        raise UnsupportedError(
            f"|re: RE2 cannot run this pattern ({reason}); rules run on RE2 so matching stays "
            "linear in the event's size: rewrite it without backreferences or lookaround"
        ) from None
    return lambda v: (t := _text(v)) is not None and pattern.search(t) is not None


def _cidr_test(value: SigmaCIDRExpression) -> ValueTest:
    network = value.network

    def test(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        try:
            return ipaddress.ip_address(v) in network
        except ValueError:
            return False

    return test


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def _compare_test(value: SigmaCompareExpression) -> ValueTest:
    op = _COMPARE[value.op]
    bound = float(value.number.number)

    def test(v: Any) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                return False
        return isinstance(v, int | float) and op(v, bound)

    return test


def _number_test(value: SigmaNumber) -> ValueTest:
    number = value.number
    text = str(number)

    def test(v: Any) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, int | float):
            return bool(v == number)
        return isinstance(v, str) and v == text

    return test


def value_test(value: SigmaType) -> tuple[ValueTest, bool]:
    """(test on the field's value, whether a list is tested element-wise)."""
    if isinstance(value, SigmaExists):
        want = bool(value)
        return (lambda v: (v is not None) == want), False
    if isinstance(value, SigmaNull):
        return (lambda v: v is None), False
    if isinstance(value, SigmaString):
        return _string_test(value), True
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value), True
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value), True
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value), True
    if isinstance(value, SigmaNumber):
        return _number_test(value), True
    if isinstance(value, SigmaBool):
        flag = bool(value)
        return (lambda v: v is flag), True
    raise UnsupportedError(f"value type {type(value).__name__} is not supported")


def _leaf(field: str, value: SigmaType) -> Predicate:
    get: Getter = getter(field)
    test, elementwise = value_test(value)
    if elementwise:
        test = _on_scalars(test)
    return lambda doc: test(get(doc))


def compile_condition(node: Any) -> Predicate:
    """A predicate from a postprocessed pySigma condition tree."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        raise UnsupportedError("keyword detections (a value without a field) are not supported")
    if isinstance(node, ConditionNOT):
        inner = compile_condition(node.args[0])
        return lambda doc: not inner(doc)
    if isinstance(node, ConditionAND | ConditionOR):
        preds = tuple(compile_condition(arg) for arg in node.args)
        if len(preds) == 1:
            return preds[0]
        if isinstance(node, ConditionAND):
            return lambda doc: all(p(doc) for p in preds)
        return lambda doc: any(p(doc) for p in preds)
    if isinstance(node, ConditionItem):
        raise UnsupportedError(f"condition element {type(node).__name__} is not supported")
    raise UnsupportedError(f"unexpected condition element {type(node).__name__}")


def condition_fields(node: Any) -> list[str]:
    """Every field a postprocessed condition tree tests."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return [node.field]
    if isinstance(node, ConditionItem):
        return [f for arg in node.args for f in condition_fields(arg)]
    return []
