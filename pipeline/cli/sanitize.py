"""`auditpipe sanitize`: what the streaming sanitizer does to each event — enrich on the raw
IP, then scrub — offline on JSON Lines, stdin to stdout, through the very function the stage
calls (pipeline.sanitizer.transform.sanitize). The line contract is in pipeline/cli/jsonl.py.

    auditpipe sanitize --keys scrub.keys < events.jsonl > sanitized.jsonl
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from pipeline.cli.enrich import build_enricher
from pipeline.cli.jsonl import CATALOG_OPTION, GEO_OPTION, finish, run_lines, unusable
from pipeline.cli.scrub import DEV_KEY_OPTION, KEYS_OPTION, POLICY_OPTION, build_scrubber
from pipeline.errors import ConfigError, RuleError
from pipeline.sanitizer.transform import sanitize as sanitize_datum


def sanitize(
    policy: Path | None = POLICY_OPTION,
    keys: Path | None = KEYS_OPTION,
    dev_key: bool = DEV_KEY_OPTION,
    catalog: Path | None = CATALOG_OPTION,
    geo_mmdb: Path | None = GEO_OPTION,
) -> None:
    """Enrich, then scrub audit events (JSON Lines on stdin), as the sanitizer stage does."""
    try:
        enricher = build_enricher(catalog, geo_mmdb)
        scrubber = build_scrubber(policy, keys, dev_key)
    except (ConfigError, RuleError) as exc:
        raise unusable(exc) from None
    transform = functools.partial(sanitize_datum, enrich=enricher.enrich, scrub=scrubber.scrub)
    finish("sanitized", *run_lines(transform, sys.stdin.buffer, sys.stdout.buffer))
