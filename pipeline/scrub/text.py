"""``TextScrubber``: the policy's detectors on one free-text string, for text that is not an
event (exception messages and tracebacks in our logs and in the SDK's log handler).

Findings get the policy's treatments, except ``pseudonymize``, which becomes ``redact``: a
log formatter holds no pseudonym key, and a pseudonym made with a development key would
protect nothing."""

from __future__ import annotations

import dataclasses

from pipeline.scrub.config import ScrubPolicy, load_policy
from pipeline.scrub.keys import dev_keys
from pipeline.scrub.scrubber import Scrubber


class TextScrubber:
    def __init__(self, policy: ScrubPolicy | None = None, engine: str | None = None) -> None:
        base = policy or load_policy()
        findings = {k: "redact" if t == "pseudonymize" else t for k, t in base.findings.items()}
        self._scrubber = Scrubber(dataclasses.replace(base, findings=findings), dev_keys(), engine)

    def __call__(self, text: str) -> str:
        return self._scrubber.treat_text(text)[0] if text else text
