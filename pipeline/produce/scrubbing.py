"""App-side scrubbing: the SDK applies the sanitizer's policy (``rules/scrub.yaml``) to each
event before it is serialized, so a raw value handed to the SDK never reaches the broker.

On by default; a producer opts out with ``ProducerConfig(scrub=False)`` (its raw topic then
holds raw values until the sanitizer runs). Persistent identifiers that the policy
pseudonymizes (``actor.id``, ...) need the pseudonym key: with ``scrub_keys_file`` (the key
file the sanitizer reads) or keys passed to ``AuditProducer``, the SDK makes the very
pseudonyms the sanitizer would (the sanitizer keeps them only with
``AUDITPIPE_SANITIZER__TRUST_PSEUDONYMS=true``; by default it pseudonymizes them again, since a
producer could copy one: issue 16); without a key those fields are left for the sanitizer, and
every other treatment still applies. A finding
whose treatment is ``pseudonymize`` is redacted when there is no key.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.produce.config import ProducerConfig
from pipeline.scrub.config import ScrubPolicy, load_policy
from pipeline.scrub.keys import ScrubKeys, dev_keys, load_keys_from_file
from pipeline.scrub.scrubber import Scrubber


def _without_keys(policy: ScrubPolicy) -> ScrubPolicy:
    rules = tuple(
        dataclasses.replace(r, treatment="keep") if r.treatment == "pseudonymize" else r
        for r in policy.rules
    )
    findings = {k: "redact" if t == "pseudonymize" else t for k, t in policy.findings.items()}
    return dataclasses.replace(policy, rules=rules, findings=findings)


class AppScrub:
    """Scrubs an event datum in place, as the sanitizer will, before the SDK serializes it."""

    def __init__(self, policy: ScrubPolicy, keys: ScrubKeys | None) -> None:
        self.keyed = keys is not None
        # without a key no pseudonym is made (the policy above keeps those fields), so the
        # development key is never used for a value
        self._scrub = Scrubber(policy if keys else _without_keys(policy), keys or dev_keys())

    def __call__(self, datum: dict[str, Any]) -> dict[str, Any]:
        out = self._scrub.scrub_owned(datum)
        out["pipeline"] = None  # the sanitizer's block, never a producer's
        return out


def build_app_scrub(config: ProducerConfig, keys: ScrubKeys | None = None) -> AppScrub | None:
    """The producer's scrub step (None when it opted out); the policy is compiled here, so a
    bad one fails when the producer is made, not on its first event."""
    if not config.scrub:
        return None
    if keys is None and config.scrub_keys_file is not None:
        keys = load_keys_from_file(config.scrub_keys_file)
    return AppScrub(load_policy(config.scrub_policy), keys)
