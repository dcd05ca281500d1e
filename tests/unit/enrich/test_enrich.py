from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.enrich.catalog import load_catalog
from pipeline.enrich.enricher import Enricher
from pipeline.enrich.geo import IptoccLookup
from pipeline.errors import RuleError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = parsed_schema(AUDIT_EVENT)


def _datum(service: str = "billing-api", ip: str | None = "81.2.69.160") -> dict[str, object]:
    actor: dict[str, object] = {"id": "u1", "type": "user"}
    if ip is not None:
        actor["ip"] = ip
    return jsonform.from_json(
        SCHEMA,
        {
            "event_id": "e1",
            "ts": "2026-11-01T10:00:00Z",
            "service": service,
            "environment": "prod",
            "category": "AUTHN",
            "action": "login",
            "outcome": "SUCCESS",
            "actor": actor,
            "request_id": "r1",
        },
    )


def test_shipped_catalog_loads_and_enriches() -> None:
    enricher = Enricher(load_catalog(ROOT / "rules" / "services.yaml"), IptoccLookup())
    received = datetime(2026, 11, 1, 10, 0, 1, tzinfo=UTC)
    datum = _datum()
    out = enricher.enrich(datum, received=received)
    info = out["pipeline"]
    assert info["enrichment"]["team"] == "billing"
    assert info["enrichment"]["tier"] == "1"
    assert info["enrichment"]["data_classification"] == "restricted"
    assert info["enrichment"]["geo_country"] == "GB"
    assert out["actor"]["country"] == "GB"
    assert info["received_ts"] == received
    assert info["processed_ts"] >= received
    assert datum["pipeline"] is None  # input untouched
    # the result is still a valid event
    assert jsonform.from_json(SCHEMA, jsonform.to_json(SCHEMA, out)) == out


def test_unknown_service_gets_the_default_and_private_ip_no_country() -> None:
    enricher = Enricher(load_catalog(ROOT / "rules" / "services.yaml"), IptoccLookup())
    out = enricher.enrich(_datum(service="mystery", ip="10.1.2.3"))
    assert out["pipeline"]["enrichment"]["team"] == "unowned"
    assert "geo_country" not in out["pipeline"]["enrichment"]
    assert out["actor"]["country"] is None


def test_existing_actor_country_is_kept() -> None:
    enricher = Enricher(load_catalog(ROOT / "rules" / "services.yaml"), IptoccLookup())
    datum = _datum()
    datum["actor"] = {**datum["actor"], "country": "DE"}  # type: ignore[dict-item]
    out = enricher.enrich(datum)
    assert out["actor"]["country"] == "DE"
    assert out["pipeline"]["enrichment"]["geo_country"] == "GB"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("services:\n  a:\n    team: x\n    tier: 9\n", 4, "services.a.tier"),
        ("services:\n  a:\n    team: x\n    tier: 1\n    colour: red\n", 5, "colour"),
        ("services: [\n", 2, "invalid YAML"),
    ],
)
def test_catalog_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(text)
    with pytest.raises(RuleError) as exc:
        load_catalog(path)
    assert exc.value.line == line
    assert message in str(exc.value)
    assert str(path) in str(exc.value)


def test_geo_lookup_handles_garbage() -> None:
    geo = IptoccLookup()
    assert geo.country("not-an-ip") is None
    assert geo.country("2001:4860:4860::8888") == "US"
