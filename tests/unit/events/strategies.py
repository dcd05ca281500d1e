"""Hypothesis strategies for valid audit events in the JSON form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from pipeline.events.jsonform import format_ts

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
opt_text = st.none() | text
timestamps = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(format_ts)
hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
hex16 = st.text("0123456789abcdef", min_size=16, max_size=16)
i64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


actors = st.builds(
    lambda id_, type_, roles, ip, ua, country, sid: _drop_none(
        {
            "id": id_,
            "type": type_,
            "roles": roles,
            "ip": ip,
            "user_agent": ua,
            "country": country,
            "session_id": sid,
        }
    ),
    text,
    text,
    st.lists(text, max_size=4),
    opt_text,
    opt_text,
    opt_text,
    opt_text,
)
targets = st.none() | st.builds(
    lambda t, i, o: _drop_none({"type": t, "id": i, "owner_id": o}), text, text, opt_text
)
authzs = st.none() | st.builds(
    lambda d, p, r: _drop_none({"decision": d, "permission": p, "role": r}),
    st.sampled_from(["ALLOW", "DENY"]),
    opt_text,
    opt_text,
)
https = st.none() | st.builds(
    lambda m, p, s: _drop_none({"method": m, "path": p, "status": s}),
    text,
    text,
    st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
)
datas = st.none() | st.builds(
    lambda r, b, c: _drop_none({"record_count": r, "bytes": b, "classification": c}),
    st.none() | i64,
    st.none() | i64,
    opt_text,
)
pipelines = st.none() | st.builds(
    lambda r, p, e, s, k: _drop_none(
        {"received_ts": r, "processed_ts": p, "enrichment": e, "scrub": s, "key_version": k}
    ),
    st.none() | timestamps,
    st.none() | timestamps,
    st.dictionaries(text, text, max_size=3),
    st.lists(st.fixed_dictionaries({"field": text, "kind": text, "treatment": text}), max_size=3),
    opt_text,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    doc = {
        "event_id": draw(text),
        "ts": draw(timestamps),
        "service": draw(text),
        "environment": draw(text),
        "category": draw(
            st.sampled_from(
                ["AUTHN", "AUTHZ", "DATA_ACCESS", "ADMIN", "LIFECYCLE", "INTEGRATION", "SYSTEM"]
            )
        ),
        "action": draw(text),
        "outcome": draw(st.sampled_from(["SUCCESS", "FAILURE", "DENIED", "ERROR"])),
        "actor": draw(actors),
        "target": draw(targets),
        "authz": draw(authzs),
        "http": draw(https),
        "data": draw(datas),
        "request_id": draw(text),
        "trace_id": draw(st.none() | hex32),
        "span_id": draw(st.none() | hex16),
        "details": draw(st.dictionaries(text, text, max_size=5)),
        "pipeline": draw(pipelines),
    }
    return _drop_none(doc)
