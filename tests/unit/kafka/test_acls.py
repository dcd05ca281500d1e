from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.kafka import acls

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "deploy" / "kafka" / "acls.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acls.yaml"
    path.write_text(text)
    return path


MINIMAL = """
principals:
  producer:
    description: d
    allow:
      - {resource: topic, name: audit.raw., pattern: prefixed, operations: [write]}
break_glass:
  grants:
    - {resource: topic, name: audit.dlq, operations: [read]}
"""


def test_shipped_file_loads_and_gives_each_role_its_grants() -> None:
    f = acls.load_file(SHIPPED)
    want = acls.desired(f)
    by = {p: {e for e in want if e.principal == p} for p in f.principals}
    assert by["producer"] == {acls.Entry("producer", "topic", "audit.raw.", "prefixed", "write")}
    assert by["admin"] == set()
    assert f.principals["admin"].super_user
    assert by["break-glass"] == set()
    # the analyst reads scrubbed topics only, and writes nothing but the audit events of its
    # own reads (pipeline/replay/audit.py)
    analyst = by["analyst"]
    audit_own_reads = acls.Entry(
        "analyst", "topic", "audit.raw.auditpipe-reader", "literal", "write"
    )
    assert {e for e in analyst if e.operation != "read"} == {audit_own_reads}
    reads = {e for e in analyst if e.operation == "read"}
    assert not any(e.name.startswith("audit.raw") or e.name == "audit.dlq" for e in reads)
    # archivers only read, one group each
    for region in ("us-east-1", "eu-central-1"):
        ops = {(e.resource, e.name, e.operation) for e in by[f"archiver-{region}"]}
        assert ops == {
            ("topic", "audit.events", "read"),
            ("topic", "audit.alerts", "read"),  # the alerts source (archive/write/alerts.py)
            ("group", f"auditpipe-archiver-{region}", "read"),
            ("group", f"auditpipe-archiver-{region}.alerts", "read"),
        }
    # the detector cannot touch the router's state
    assert not any("router" in e.name for e in by["detector"])
    glass = acls.break_glass_entries(f)
    assert {e.name for e in glass} >= {"audit.raw.", "audit.dlq"}


@pytest.mark.parametrize(
    "text",
    [
        MINIMAL.replace("description: d", "description: d\n    colour: red"),
        MINIMAL.replace("operations: [write]", "operations: [write, fly]"),
        MINIMAL.replace("resource: topic, name: audit.raw.", "resource: topics, name: audit.raw."),
        MINIMAL.replace("name: audit.raw.", "name: '*'"),
        MINIMAL.replace("operations: [write]", "operations: []"),
        MINIMAL + "extra: 1\n",
        MINIMAL.replace("  producer:", "  'User:producer':"),
        "principals: [",
    ],
)
def test_unknown_or_bad_keys_fail(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        acls.load_file(_write(tmp_path, text))


def test_break_glass_principal_may_not_have_standing_acls(tmp_path: Path) -> None:
    text = MINIMAL.replace("  producer:", "  break-glass:")
    with pytest.raises(ConfigError, match="no standing ACLs"):
        acls.load_file(_write(tmp_path, text))


def test_plan_adds_missing_removes_foreign_and_is_empty_when_in_sync(tmp_path: Path) -> None:
    f = acls.load_file(_write(tmp_path, MINIMAL))
    want = acls.desired(f)
    foreign = acls.Entry("analyst", "topic", "audit.dlq", "literal", "read")
    p = acls.plan(f, {foreign})
    assert p.add == tuple(sorted(want))
    assert p.remove == (foreign,)
    assert p.lines() == [
        "+ User:producer write topic:audit.raw. (prefixed)",
        "- User:analyst read topic:audit.dlq",
    ]
    assert acls.plan(f, want).in_sync


def test_open_break_glass_is_not_drift_but_a_partial_grant_is(tmp_path: Path) -> None:
    f = acls.load_file(_write(tmp_path, MINIMAL))
    want = acls.desired(f)
    glass = acls.break_glass_entries(f)
    p = acls.plan(f, want | glass)
    assert p.in_sync
    assert p.break_glass_open
    # a break-glass grant beside other ACLs of that principal is drift
    stray = acls.Entry("break-glass", "topic", "audit.events", "literal", "read")
    assert acls.plan(f, want | glass | {stray}).remove == (stray,)


def test_entries_round_trip_through_confluent_bindings() -> None:
    for e in acls.desired(acls.load_file(SHIPPED)):
        assert acls.from_binding(acls.to_binding(e)) == e
        assert acls.from_binding(acls.to_filter(e)) == e
