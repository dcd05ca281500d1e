"""`auditpipe enrich`: add the sanitizer's enrichment (service catalog, geo country,
processed time) to JSON Lines events offline, stdin to stdout. Nothing is scrubbed: the output
holds whatever personal data the input held (use `auditpipe sanitize` for both steps).
The line contract is in pipeline/cli/jsonl.py."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli.jsonl import (
    CATALOG_OPTION,
    GEO_OPTION,
    default_catalog_path,
    finish,
    run_lines,
    unusable,
)
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.errors import ConfigError, RuleError


def build_enricher(catalog: Path | None, geo_mmdb: Path | None) -> Enricher:
    return load_enricher(catalog or default_catalog_path(), geo_mmdb)


def enrich(catalog: Path | None = CATALOG_OPTION, geo_mmdb: Path | None = GEO_OPTION) -> None:
    """Enrich audit events (JSON Lines on stdin) like the sanitizer does; NOT scrubbed."""
    try:
        enricher = build_enricher(catalog, geo_mmdb)
    except (ConfigError, RuleError) as exc:
        raise unusable(exc) from None
    finish("enriched", *run_lines(enricher.enrich, sys.stdin.buffer, sys.stdout.buffer))
