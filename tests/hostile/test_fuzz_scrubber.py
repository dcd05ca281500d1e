"""Hypothesis fuzzing of the scrubber through its public entry points (issue 18, item 4), on the
inputs a hostile producer controls. tests/unit/scrub/test_scrubber.py already proves, with
hypothesis, that seeded personal data never survives, that scrubbing twice changes nothing and
that the engines agree; what it does not try is hostile *shape*: any Unicode (control, format,
private-use and unassigned characters, lone combining marks) in every string field and map
key, fields as long as the sanitizer lets through (``max_field_bytes``), and runs of the
fragments detectors key on. Here: ``Scrubber.scrub`` and ``Scrubber.scrub_owned`` never raise,
leave their input alone (``scrub``), and give an event that still encodes under the schema
(else the sanitizer would dead-letter it as ``processing_failed``); ``treat_text`` never raises;
and the cost of a field of adversarial fragments stays within a bound per KB.
"""

from __future__ import annotations

import copy
import io
import time
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import InvalidEventError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from pipeline.scrub import Scrubber, dev_keys, load_policy
from pipeline.settings import SanitizerConfig

SCHEMA = parsed_schema(AUDIT_EVENT)
WRITER = fastavro.parse_schema(raw_schema(AUDIT_EVENT))
SCRUBBER = Scrubber(load_policy(), dev_keys())
FIELD_LIMIT = SanitizerConfig().max_field_bytes
MAX_FIELD_S = 10.0  # one field at the limit, on a loaded shared machine (a bound, not a target)

any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
fragments = st.sampled_from(
    [
        "eyJ", "eyJhbGciOiJIUzI1NiJ9.", ".", "4111", " ", "-", "1", "0", "@", "a@b", ".com",
        "://", "user:pass@", "password=", "[", "]", "token=", "AKIA", "+44", "DE89", "ps:",
        "\u200b", "\uff10", "\uff20", "%40", "=", "\\", "\n", "\x1b[31m", "192.168.", "::",
    ]
)  # fmt: skip


def _event(draw: st.DrawFn, text: st.SearchStrategy[str]) -> dict[str, Any]:
    doc = {
        "event_id": draw(text) or "e",
        "ts": "2026-11-01T10:00:00Z",
        "service": draw(text) or "s",
        "environment": draw(text),
        "category": "DATA_ACCESS",
        "action": draw(text) or "a",
        "outcome": "SUCCESS",
        "actor": {
            "id": draw(text),
            "type": draw(text),
            "roles": draw(st.lists(text, max_size=3)),
            "ip": draw(st.none() | text),
            "user_agent": draw(st.none() | text),
            "country": draw(st.none() | text),
            "session_id": draw(st.none() | text),
        },
        "target": {"type": draw(text), "id": draw(text), "owner_id": draw(st.none() | text)},
        "http": {"method": draw(text), "path": draw(text), "status": 200},
        "data": {"classification": draw(st.none() | text)},
        "request_id": draw(text) or "r",
        "details": draw(st.dictionaries(text, text, max_size=6)),
    }
    return jsonform.from_json(SCHEMA, doc)


@st.composite
def hostile_events(draw: st.DrawFn) -> dict[str, Any]:
    return _event(draw, any_text)


def _encodes(datum: dict[str, Any]) -> None:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, WRITER, datum)


def _scrub_or_rejection(
    datum: dict[str, Any],
) -> tuple[dict[str, Any] | None, InvalidEventError | None]:
    try:
        return SCRUBBER.scrub(datum), None
    except InvalidEventError as exc:
        return None, exc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_events())
def test_scrub_never_raises_keeps_its_input_and_stays_encodable(datum: dict[str, Any]) -> None:
    """Scrubbed and encodable, or rejected with ``InvalidEventError`` (an id outside its shape:
    ids are never altered, issue 16's input contract) whose message names the field's path and
    the shape, never the value; nothing else is raised."""
    before = copy.deepcopy(datum)
    out, rejected = _scrub_or_rejection(datum)
    assert datum == before
    if rejected is not None:
        assert "is rejected" in rejected.reason
        for field in ("event_id", "request_id", "trace_id", "span_id"):
            value = datum.get(field)
            echoed = isinstance(value, str) and len(value) > 3 and value in rejected.reason
            assert not echoed, f"the rejection echoes {field}"
        with pytest.raises(InvalidEventError):
            SCRUBBER.scrub_owned(copy.deepcopy(datum))
        return
    assert out is not None
    _encodes(out)
    owned = SCRUBBER.scrub_owned(copy.deepcopy(datum))
    _encodes(owned)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_treat_text_never_raises(text: str) -> None:
    treated, remarks = SCRUBBER.treat_text(text)
    assert isinstance(treated, str)
    assert all({"kind", "treatment"} <= set(r) for r in remarks)


def _cost(text: str, where: str) -> float:
    doc = {
        "event_id": "e", "ts": "2026-11-01T10:00:00Z", "service": "s", "environment": "prod",
        "category": "SYSTEM", "action": "a", "outcome": "SUCCESS", "request_id": "r",
        "actor": {"id": "u", "type": "user", "user_agent": text if where != "details" else None},
        "details": {"note": text} if where == "details" else {},
    }  # fmt: skip
    best = float("inf")
    for _ in range(3):  # the best of three, in CPU time: the machine is shared
        datum = jsonform.from_json(SCHEMA, doc)
        t0 = time.process_time()
        out = SCRUBBER.scrub_owned(datum)
        best = min(best, time.process_time() - t0)
        _encodes(out)
    return best


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fragments, min_size=1, max_size=6), st.sampled_from(["details", "user_agent"]))
def test_a_field_of_adversarial_fragments_costs_linear_time(pattern: list[str], where: str) -> None:
    """8x the text may cost at most 16x the time (linear is 8x; quadratic would be 64x), plus
    20 ms of noise; and no field up to the limit costs more than ``MAX_FIELD_S``."""
    unit = "".join(pattern)
    big = (unit * (FIELD_LIMIT // len(unit) + 1))[: FIELD_LIMIT // 2]
    small = big[: len(big) // 8]
    t_small, t_big = _cost(small, where), _cost(big, where)
    assert t_big <= 16 * t_small + 0.02, f"{t_small:.3f} s -> {t_big:.3f} s for {pattern!r}"
    assert t_big < MAX_FIELD_S, f"{t_big:.1f} s for one field of {pattern!r}"
