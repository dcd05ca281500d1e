"""Filter expressions over events in their JSON form: ``--filter EXPR``, several ANDed.

Grammar (keywords ``AND``, ``OR``, ``NOT``, ``IN`` in any case; values bare or quoted)::

    expr   := and ( OR and )*
    and    := atom ( AND atom )*
    atom   := '(' expr ')' | cond
    cond   := PATH OP VALUE | PATH [NOT] IN '(' VALUE ( ',' VALUE )* ')'
    OP     := = | != | >= | <= | > | <
    PATH   := a dotted field path: category, actor.id, http.status, details.reason, ts

Examples: ``category=AUTHN``, ``outcome!=SUCCESS``, ``http.status>=400``,
``actor.id=ps:k1:3f…``, ``ts>=2026-11-01T10:00:00Z AND ts<2026-11-01T11:00:00Z``,
``category IN (AUTHN, AUTHZ) OR outcome=DENIED``.

Comparison: a number field compares as a number (a value that is not a number never matches);
when the value is an RFC 3339 timestamp and the field a timestamp string, they compare as
times; otherwise as strings. A list field (``actor.roles``) matches when any element does. A
missing or null field matches ``PATH=null`` and every ``!=``/``NOT IN`` with a non-null value,
and nothing else. Errors name the position in the expression, never an event's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pipeline.errors import ConfigError, InvalidEventError
from pipeline.events.jsonform import parse_ts

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<quoted>"(?:[^"\\]|\\.)*"|'[^']*')
      | (?P<op>!=|>=|<=|=|>|<)
      | (?P<punct>[(),])
      | (?P<word>[^\s=!<>(),'"]+)
    )""",
    re.X,
)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_KEYWORDS = {"AND", "OR", "NOT", "IN"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # quoted, op, punct, word, kw
    text: str
    pos: int


def _tokens(expr: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise ConfigError(f"filter {expr!r}: cannot read at character {pos + 1}")
        kind = m.lastgroup or "word"
        text = m.group(kind)
        start = m.start(kind)
        if kind == "quoted":
            body = text[1:-1]
            text = re.sub(r"\\(.)", r"\1", body) if text[0] == '"' else body
        elif kind == "word" and text.upper() in _KEYWORDS:
            kind, text = "kw", text.upper()
        out.append(_Tok(kind, text, start))
        pos = m.end()
    return out


@dataclass(frozen=True, slots=True)
class Condition:
    path: tuple[str, ...]
    op: str  # = != >= <= > < in notin
    values: tuple[str, ...]

    @property
    def field(self) -> str:
        return ".".join(self.path)


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokens(expr)
        self.i = 0
        self.conditions: list[Condition] = []

    def _fail(self, what: str) -> ConfigError:
        where = self.toks[self.i].pos + 1 if self.i < len(self.toks) else len(self.expr) + 1
        return ConfigError(f"filter {self.expr!r}: {what} at character {where}")

    def _peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _take(self, kind: str, text: str | None = None) -> _Tok | None:
        tok = self._peek()
        if tok is not None and tok.kind == kind and (text is None or tok.text == text):
            self.i += 1
            return tok
        return None

    def parse(self) -> Predicate:
        if not self.toks:
            raise ConfigError("filter: empty expression")
        pred = self._or()
        if self._peek() is not None:
            raise self._fail("expected AND, OR or the end")
        return pred

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._take("kw", "OR"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda doc: any(p(doc) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._atom()]
        while self._take("kw", "AND"):
            parts.append(self._atom())
        if len(parts) == 1:
            return parts[0]
        return lambda doc: all(p(doc) for p in parts)

    def _atom(self) -> Predicate:
        if self._take("punct", "("):
            inner = self._or()
            if not self._take("punct", ")"):
                raise self._fail("expected ')'")
            return inner
        return self._cond()

    def _value(self) -> str:
        tok = self._take("word") or self._take("quoted")
        if tok is None:
            raise self._fail("expected a value")
        return tok.text

    def _cond(self) -> Predicate:
        tok = self._take("word")
        if tok is None or not _PATH.match(tok.text):
            raise self._fail("expected a field path")
        path = tuple(tok.text.split("."))
        if (op := self._take("op")) is not None:
            cond = Condition(path, op.text, (self._value(),))
        else:
            negate = self._take("kw", "NOT") is not None
            if not self._take("kw", "IN"):
                raise self._fail("expected an operator (= != >= <= > <) or IN")
            if not self._take("punct", "("):
                raise self._fail("expected '(' after IN")
            values = [self._value()]
            while self._take("punct", ","):
                values.append(self._value())
            if not self._take("punct", ")"):
                raise self._fail("expected ',' or ')'")
            cond = Condition(path, "notin" if negate else "in", tuple(values))
        self.conditions.append(cond)
        return _compile(cond)


def _lookup(doc: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(name)
    return doc


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _as_time(text: str) -> datetime | None:
    if "T" not in text and "t" not in text:
        return None
    try:
        return parse_ts(text, "filter")
    except InvalidEventError:
        return None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    ">=": lambda a, b: bool(a >= b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    "<": lambda a, b: bool(a < b),
}


def _scalar_test(op: str, literal: str) -> Callable[[Any], bool]:
    """A test of one (non-list, non-null) field value against one literal."""
    cmp = _ORDER[op]
    number = _as_number(literal)
    when = _as_time(literal)
    boolean = {"true": True, "false": False}.get(literal.lower())

    def test(value: Any) -> bool:
        if isinstance(value, bool):
            return boolean is not None and cmp(value, boolean) if op in ("=", "!=") else False
        if isinstance(value, int | float):
            return number is not None and cmp(value, number)
        if isinstance(value, str):
            if when is not None:
                try:
                    return cmp(parse_ts(value, "field"), when)
                except InvalidEventError:
                    pass
            return cmp(value, literal)
        return op == "!="  # a record or map never equals a literal

    return test


def _compile(cond: Condition) -> Predicate:
    path = cond.path
    if cond.op in ("in", "notin"):
        tests = [_scalar_test("=", v) for v in cond.values]
        want_null = any(v == "null" for v in cond.values)
        inside = cond.op == "in"

        def member(doc: dict[str, Any]) -> bool:
            value = _lookup(doc, path)
            if value is None:
                hit = want_null
            elif isinstance(value, list):
                hit = any(t(v) for v in value for t in tests)
            else:
                hit = any(t(value) for t in tests)
            return hit if inside else not hit

        return member
    literal = cond.values[0]
    test = _scalar_test(cond.op, literal)
    negative = cond.op == "!="
    is_null = literal == "null"

    def check(doc: dict[str, Any]) -> bool:
        value = _lookup(doc, path)
        if value is None:
            return is_null != negative if cond.op in ("=", "!=") else False
        if isinstance(value, list):
            hits = [test(v) for v in value]
            return all(hits) if negative else any(hits)
        return test(value)

    return check


@dataclass(frozen=True)
class Filter:
    """The AND of every ``--filter`` expression given (everything when none is), and of what a
    command adds: ``needles`` (a record's raw bytes must hold one of them, checked before
    decoding: trace ids, pseudonyms) and ``transform`` (applied to what is emitted)."""

    expressions: tuple[str, ...]
    conditions: tuple[Condition, ...]
    _predicates: tuple[Predicate, ...]
    needles: tuple[bytes, ...] = ()
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def __call__(self, doc: dict[str, Any]) -> bool:
        return all(p(doc) for p in self._predicates)

    def may_match(self, raw: bytes) -> bool:
        """False when ``raw`` (a record's bytes) cannot match: it holds none of the needles."""
        return not self.needles or any(n in raw for n in self.needles)

    def narrowed(
        self,
        predicate: Predicate,
        needles: tuple[bytes, ...] = (),
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Filter:
        """This filter AND ``predicate``, with a raw-bytes prefilter and an output transform."""
        return replace(
            self,
            _predicates=(*self._predicates, predicate),
            needles=needles or self.needles,
            transform=transform or self.transform,
        )

    @property
    def fields(self) -> list[str]:
        """The field paths filtered on (for the audit event: paths, never values)."""
        return sorted({c.field for c in self.conditions})


def compile_filters(expressions: Sequence[str]) -> Filter:
    """Compile ``--filter`` expressions; raises ConfigError naming the bad one."""
    preds: list[Predicate] = []
    conds: list[Condition] = []
    for expr in expressions:
        parser = _Parser(expr)
        preds.append(parser.parse())
        conds.extend(parser.conditions)
    return Filter(tuple(expressions), tuple(conds), tuple(preds))


def field_equals(path: str, value: str) -> Predicate:
    """``path = value`` as a predicate, for values that come from options, not expressions."""
    return _compile(Condition(tuple(path.split(".")), "=", (value,)))
