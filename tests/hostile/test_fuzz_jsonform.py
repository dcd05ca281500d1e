"""Hypothesis fuzzing of the JSON-form decoder (issue 16): any mutation of a valid event either
decodes or raises InvalidEventError, and the error never quotes a key or value of the input."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InvalidEventError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema
from pipeline.produce.generator import EventGenerator

SCHEMA = parsed_schema(AUDIT_EVENT)
BASE = next(iter(EventGenerator(seed=21).events()))
MARK = "Zq7"  # in every hostile key and value; never in a schema name or a message of ours

hostile_text = st.text(min_size=0, max_size=30).map(lambda s: f"{MARK}{s}{MARK}")
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=10,
)


def _containers(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if isinstance(doc, dict | list) else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _containers(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _containers(v, (*path, i))
    return out


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


mutation = st.tuples(
    st.integers(0, 10**6),
    st.sampled_from(["replace", "add"]),
    hostile_text,
    json_values,
    st.integers(0, 10**6),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(mutation, min_size=1, max_size=4))
def test_decoder_never_crashes_nor_echoes(ops: list[tuple[int, str, str, Any, int]]) -> None:
    doc: Any = copy.deepcopy(BASE)
    for which, op, key, value, pick in ops:
        paths = _containers(doc)
        target = _at(doc, paths[which % len(paths)])
        if isinstance(target, dict):
            if op == "add" or not target:
                target[key] = value
            else:
                target[sorted(target)[pick % len(target)]] = value
        elif target:
            target[pick % len(target)] = value
    try:
        line = orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return  # integers past 64 bits: not JSON orjson writes
    message = ""
    try:
        jsonform.loads(SCHEMA, line)
    except InvalidEventError as exc:
        message = str(exc)
    assert MARK not in message, message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_decoder_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(InvalidEventError):
        jsonform.loads(SCHEMA, data)
