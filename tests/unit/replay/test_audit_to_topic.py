"""Pure parts of the audit event of a read and of --to-topic."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.replay.audit import ReadAudit
from pipeline.replay.to_topic import ORIGIN_HEADER, _origin, check_target
from pipeline.settings import Settings


def test_audit_details_name_fields_never_values() -> None:
    read = ReadAudit("replay kafka", "audit.events", "[a, b)", ("actor.id",), "DSAR 9", True)
    assert read.details() == {
        "command": "replay kafka",
        "source": "audit.events",
        "window": "[a, b)",
        "filter_fields": "actor.id",
        "reason": "DSAR 9",
        "subject_lookup": "true",
    }
    assert "subject_lookup" not in ReadAudit("trace", "t", "w").details()


@pytest.mark.parametrize(
    "target", ["audit.events", "audit.alerts", "audit.router.by-rule", "audit.raw.billing"]
)
def test_pipeline_inputs_are_refused_unless_forced(target: str) -> None:
    settings = Settings()
    with pytest.raises(ConfigError, match="pipeline input"):
        check_target(settings, "audit.events.copy", target, force=False)
    if target != "audit.events.copy":
        check_target(settings, "src", target, force=True)
    check_target(settings, "audit.events", "analysis.copy", force=False)
    with pytest.raises(ConfigError, match="being replayed"):
        check_target(settings, "x", "x", force=True)


def test_origin_header() -> None:
    assert _origin([("a", b"1"), (ORIGIN_HEADER, b"audit.events:2:41")]) == ("audit.events", 2, 41)
    assert _origin({ORIGIN_HEADER: "t.x:0:0"}) == ("t.x", 0, 0)
    assert _origin(None) is None
    assert _origin([("a", b"1")]) is None
