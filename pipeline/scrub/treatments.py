"""Treatments: what happens to a value the policy or a detector points at.

* ``redact``       — ``[kind]`` (a tag naming what was there, never any of it)
* ``mask``         — ``[kind:…1111]``: the last 4 letters/digits stay (cards, IBANs)
* ``truncate``     — IPv4 to its /24, IPv6 to its /48 network address; not an IP: redact
* ``pseudonymize`` — ``ps:<key version>:<32 hex>``, keyed HMAC-SHA256 (same input and key,
  same pseudonym; a new key version changes the prefix and the digits)
* ``drop``         — the field is removed (map entry, array item) or set to null
* ``detect``       — (fields only) run the detectors and treat what they find
* ``keep``         — (fields only) leave the value as it is; for controlled vocabularies
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

from pipeline.scrub.keys import ScrubKeys

FIELD_TREATMENTS = ("keep", "detect", "redact", "mask", "truncate", "pseudonymize", "drop")
FINDING_TREATMENTS = ("redact", "mask", "truncate", "pseudonymize")
PSEUDONYM_HEX = 32
_ALNUM = re.compile(r"[A-Za-z0-9]", re.ASCII)


def redact(kind: str) -> str:
    return f"[{kind}]"


def mask(value: str, kind: str) -> str:
    tail = "".join(_ALNUM.findall(value))[-4:]
    return f"[{kind}:…{tail}]" if len(tail) == 4 else redact(kind)


_DOTTED = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(?:\d{1,3})", re.ASCII)


def _octet(text: str) -> bool:
    return (len(text) == 1 or text[0] != "0") and int(text) <= 255


def truncate_ip(value: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network address, or None if ``value`` is not an IP."""
    m = _DOTTED.fullmatch(value)
    if m is not None:  # the common case without ipaddress' object overhead
        a, b, c = m.groups()
        last = value[m.end(3) + 1 :]
        if _octet(a) and _octet(b) and _octet(c) and _octet(last):
            return f"{a}.{b}.{c}.0"
        return None
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


def ip_kind(value: str) -> str:
    if truncate_ip(value) is None:
        return "ip"
    return "ipv6" if ":" in value else "ipv4"


class Pseudonymizer:
    """Keyed HMAC-SHA256 pseudonyms with the key version visible in the value."""

    def __init__(self, keys: ScrubKeys) -> None:
        self.version = keys.active
        self._mac = hmac.new(keys.active_key, digestmod=hashlib.sha256)
        self._prefix = f"ps:{keys.active}:"
        versions = "|".join(re.escape(v) for v in keys.keys)
        self._existing = re.compile(f"ps:(?:{versions}):[0-9a-f]{{{PSEUDONYM_HEX}}}", re.ASCII)

    def __call__(self, value: str) -> str:
        mac = self._mac.copy()
        mac.update(value.encode("utf-8", "surrogatepass"))
        return self._prefix + mac.hexdigest()[:PSEUDONYM_HEX]

    def is_pseudonym(self, value: str) -> bool:
        """Already a pseudonym of one of our key versions (so scrubbing twice is safe)."""
        return self._existing.fullmatch(value) is not None
