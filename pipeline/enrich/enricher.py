"""Add what the pipeline knows to an event datum: service catalog facts, geo country,
received/processed timestamps. Runs on the raw IP, *before* the scrubber truncates it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.enrich.catalog import ServiceCatalog, load_catalog
from pipeline.enrich.geo import GeoLookup, IptoccLookup, MmdbLookup


def empty_pipeline_info() -> dict[str, Any]:
    return {
        "received_ts": None,
        "processed_ts": None,
        "enrichment": {},
        "scrub": [],
        "key_version": None,
    }


class Enricher:
    def __init__(self, catalog: ServiceCatalog, geo: GeoLookup | None) -> None:
        self.catalog = catalog
        self.geo = geo

    def enrich(self, datum: dict[str, Any], *, received: datetime | None = None) -> dict[str, Any]:
        """A new datum with ``pipeline.enrichment`` filled; the input is not modified."""
        out = dict(datum)
        info = dict(out.get("pipeline") or empty_pipeline_info())
        enrichment = dict(info.get("enrichment") or {})
        entry = self.catalog.lookup(str(out.get("service")))
        if entry is not None:
            enrichment["team"] = entry.team
            enrichment["tier"] = str(entry.tier)
            enrichment["data_classification"] = entry.data_classification
            if entry.oncall:
                enrichment["oncall"] = entry.oncall
        actor = out.get("actor")
        ip = actor.get("ip") if isinstance(actor, dict) else None
        if self.geo is not None and isinstance(ip, str) and actor is not None:
            country = self.geo.country(ip)
            if country:
                enrichment["geo_country"] = country
                if not actor.get("country"):
                    out["actor"] = {**actor, "country": country}
        info["enrichment"] = enrichment
        if received is not None and info.get("received_ts") is None:
            info["received_ts"] = received
        info["processed_ts"] = datetime.now(UTC)
        out["pipeline"] = info
        return out


def load_enricher(catalog: Path, geo_mmdb: Path | None = None) -> Enricher:
    """The enricher of the stage and of the offline commands: the catalog file, and geo from
    the ``.mmdb`` file when one is given, else the database bundled with ``iptocc``."""
    geo: GeoLookup = MmdbLookup(geo_mmdb) if geo_mmdb is not None else IptoccLookup()
    return Enricher(load_catalog(catalog), geo)
