"""Build the sanitizer's scrub step from settings: the compiled policy and the pseudonym keys."""

from __future__ import annotations

import re

from pipeline.errors import ConfigError
from pipeline.sanitizer.processor import Transform
from pipeline.scrub.config import load_policy
from pipeline.scrub.keys import ScrubKeys, check_key_strength, load_keys_from_file
from pipeline.scrub.scrubber import Scrubber
from pipeline.settings import Settings

_HEX = re.compile(r"^[0-9a-fA-F]{64,}$")


def scrub_keys(settings: Settings) -> ScrubKeys:
    """Keys from ``AUDITPIPE_HMAC_KEY_FILE`` (several versions) or ``AUDITPIPE_HMAC_KEY`` (one)."""
    if settings.hmac_key_file is not None:
        return load_keys_from_file(settings.hmac_key_file)
    if settings.hmac_key is not None:
        text = settings.hmac_key.get_secret_value().strip()
        key = bytes.fromhex(text) if _HEX.match(text) else text.encode()
        check_key_strength(key, "AUDITPIPE_HMAC_KEY")
        return ScrubKeys({settings.hmac_key_version: key}, settings.hmac_key_version)
    raise ConfigError(
        "no pseudonym key: set AUDITPIPE_HMAC_KEY to at least 64 hex characters (e.g. from "
        "`python -c 'import secrets; print(secrets.token_hex(32))'`), or AUDITPIPE_HMAC_KEY_FILE "
        "to a key file (format in pipeline/scrub/keys.py)"
    )


def build_scrub(settings: Settings) -> Transform:
    """The scrub step: compiled once here, so a bad policy stops the worker at start-up.

    It scrubs in place: the stage hands it a datum it has just decoded (and enriched) and
    owns, so the copy that ``Scrubber.scrub`` makes would be wasted."""
    scrubber = Scrubber(
        load_policy(settings.rules_dir / "scrub.yaml"),
        scrub_keys(settings),
        trust_pseudonyms=settings.sanitizer.trust_pseudonyms,
    )
    return scrubber.scrub_owned
