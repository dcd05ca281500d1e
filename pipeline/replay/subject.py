"""One person's events without seeing anyone else's: ``--subject EMAIL|ID``.

The identifier is turned into its keyed pseudonym under every key version the caller holds
(``ps:<version>:<hmac>``, exactly as the sanitizer makes them), so events pseudonymized before
a key rotation are found too. Neither the identifier nor its pseudonyms are printed, logged or
put in the audit event. An event is the subject's when any of its values holds one of those
pseudonyms (``actor.id``, ``target.owner_id``, or inside free text). In what is emitted, the
subject's pseudonym is replaced by ``ps:subject`` and every other pseudonym by ``ps:redacted``:
the output names no other person and does not hand out the subject's pseudonym either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.scrub.keys import ScrubKeys
from pipeline.scrub.treatments import PSEUDONYM_HEX, Pseudonymizer

SUBJECT = "ps:subject"
REDACTED = "ps:redacted"
_PSEUDONYM = re.compile(rf"ps:[a-z0-9_-]{{1,16}}:[0-9a-f]{{{PSEUDONYM_HEX}}}", re.ASCII)


@dataclass(frozen=True)
class Subject:
    """The pseudonyms of one identifier; what a subject lookup filters and redacts with."""

    pseudonyms: frozenset[str]

    def __repr__(self) -> str:  # never show the pseudonyms
        return f"Subject(<{len(self.pseudonyms)} pseudonyms>)"

    @property
    def needles(self) -> tuple[bytes, ...]:
        """Byte strings one of which a raw Avro body must hold to be the subject's (Avro
        strings are stored as their UTF-8 bytes)."""
        return tuple(p.encode() for p in sorted(self.pseudonyms))

    def matches(self, doc: dict[str, Any]) -> bool:
        return any(p in s for s in _strings(doc) for p in self.pseudonyms)

    def redact(self, doc: dict[str, Any]) -> dict[str, Any]:
        def swap(m: re.Match[str]) -> str:
            return SUBJECT if m.group(0) in self.pseudonyms else REDACTED

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                return _PSEUDONYM.sub(swap, value) if "ps:" in value else value
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            return value

        out: dict[str, Any] = walk(doc)
        return out


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def subject(keys: ScrubKeys, identifier: str) -> Subject:
    """The pseudonyms of ``identifier`` under every key version of ``keys``."""
    return Subject(
        frozenset(
            Pseudonymizer(ScrubKeys({version: key}, version))(identifier)
            for version, key in keys.keys.items()
        )
    )
