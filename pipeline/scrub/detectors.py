"""The detectors: what sensitive values look like in free text, and how each is confirmed.

Every detector has two patterns:

* ``trigger`` — a cheap superset written in the common subset of Hyperscan, RE2 and Python
  ``re`` (no look-around, no back-references). All triggers run together in one pass of the
  scan engine; a string no trigger fires on is never looked at again. A trigger must match
  (a part of) every text the precise pattern matches, or the engine would hide a finding; the
  accuracy suite runs every engine to check that.
* ``pattern`` — the precise Python regex (always ``re.ASCII``), run only on strings whose
  trigger fired, followed by the detector's check (Luhn, mod 97, phone metadata, ...).

Decisions worth knowing (each has a test):

* Dotted quads are IPv4 addresses when every octet is ≤ 255 (``ipaddress`` decides) and they
  are not a version: not glued to a word or a dot (``v1.2.3.4``, ``1.2.3.4.5``), not right
  after ``product/`` (``Chrome/120.0.0.0``) and not after the word version/ver/release/build/
  rev. A bare ``1.2.3.4`` in prose is treated as an address (fail closed).
* Phone numbers are valid by libphonenumber metadata: international (``+`` or ``00`` and a
  country code), or national with separators — a trunk ``0`` and an area code
  (``030 1234567``, ``020 7946 0958``, ``(030) 1234567``) tried in ``NATIONAL_REGIONS``, or
  NANP (``(415) 555-2671``, ``415-555-2671``). A national number needs 9-13 digits and a
  separator, must not follow a word, a dash or a number (``12:05 …``, ``4153 0053 …``)
  nor run on into digits or a hex id, so dates, times, versions, grouped order numbers and ids
  (``INV-2026-000123``, ``6011 0635 1396 9371``) are not numbers. Not detected (known
  gaps, too many ids look like them): national numbers without any separator
  (``0612345678``) and national formats without a trunk prefix outside NANP (Italian
  mobiles ``312 345 6789``, Spanish numbers) — ``phones.py`` finds those with
  libphonenumber's matcher, by context.
* Cards need 13-19 digits (spaces or dashes allowed), a known issuer prefix and Luhn.
* IBANs are compact or in groups (spaces or dashes), upper or lower case, valid by country
  length/format and mod 97.
* US SSNs are ``123-45-6789`` or ``123 45 6789`` anywhere; nine bare digits only right after
  the words SSN or social security (``SSN: 123456789``) — other 9-digit numbers are ids.
* Emails are found URL-encoded too (``alice%40example.com``).
* Secrets (provider keys, URL credentials, cookies, values after secret-named keys): see
  ``secrets.py``.
"""

from __future__ import annotations

import re

from pipeline.scrub import validators as v
from pipeline.scrub.base import Detector, Finding, resolve
from pipeline.scrub.base import compile_ascii as _c
from pipeline.scrub.context import CONTEXT
from pipeline.scrub.national import NATIONAL
from pipeline.scrub.phones import PHONES
from pipeline.scrub.secrets import SECRETS, secret_name

# --- checks --------------------------------------------------------------------------------


def _card(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    return [(m.start() + s, m.start() + e) for s, e in v.best_cards(m.group())]


def _iban(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    span = v.best_iban(m.group())
    return [] if span is None else [(m.start() + span[0], m.start() + span[1])]


def _phone(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    if m["intl"] is not None:
        group, span = "intl", v.best_phone(m["intl"])
    elif m["idd"] is not None:
        group, span = "idd", v.best_phone(m["idd"])
    elif m["nat"] is not None:
        group, span = "nat", v.best_national_phone(m["nat"], v.NATIONAL_REGIONS)
    else:
        group, span = "nanp", v.best_national_phone(m["nanp"], v.NANP_REGIONS)
    return [] if span is None else [(m.start(), m.start(group) + span[1])]


def _ssn(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    if m["a"] is not None:
        return [m.span()] if v.ssn_ok(m["a"], m["g"], m["s"]) else []
    ok = v.ssn_ok(m["ka"], m["kg"], m["ks"])
    return [(m.start("ka"), m.end("ks"))] if ok else []


#: one part of an IPv4 address as inet_aton reads it, then the dotted parts that follow
_IP_PARTS = r"(?:0[xX][0-9A-Fa-f]{1,8}|\d{1,10})(?:\.(?:0[xX][0-9A-Fa-f]{1,8}|\d{1,10}))"
_VERSION_BEFORE = _c(r"(?:[A-Za-z0-9_]/|(?i:version|ver|release|build|rev|v)[\s:=#]{0,3})$")


def _ipv4(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    quad = m["q"]
    if quad is not None:  # a dotted quad, canonical or padded (203.000.113.007)
        if not (v.ipv4_ok(quad) or v.loose_ipv4(quad) is not None):
            return []
        if _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
            return []
        return [m.span()]
    # other forms inet_aton reads: with hex parts, in a URL's host, after an IP keyword
    group = next(g for g in ("h", "u", "k") if m[g] is not None)
    number = v.loose_ipv4(m[group])
    if number is None or (group != "h" and number < 1 << 24):
        return []
    return [m.span(group)]


def _ipv6(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    if not v.ipv6_ok(m.group()):
        return []
    end = m.end()
    while end < len(text) and text[end].isascii() and text[end].isalnum():
        end += 1  # glued to a word: cover it, so the finding is redacted, not truncated
    return [(m.start(), end)]


# --- the registry --------------------------------------------------------------------------

PERSONAL: tuple[Detector, ...] = (
    Detector(
        "card",
        r"\d(?:[ -]?\d){12}",
        _c(r"(?<!\d)\d(?:[ -]?\d){12,200}"),
        _card,
        secret=True,
        priority=6,
    ),
    Detector(
        "iban",
        # one case throughout; the end is found by the check (an IBAN may be glued to a word)
        # (lower case glued to its check digits only: "size 18342" in prose is no IBAN)
        r"[A-Z]{2} ?\d{2}[ -]?[A-Z0-9]{3}|[a-z]{2}\d{2}[ -]?[a-z0-9]{3}",
        _c(
            r"(?<![A-Z0-9])[A-Z]{2} ?\d{2}[ -]?[A-Z0-9]{3}(?:[ -]?[A-Z0-9]){8,27}"
            r"|(?<![a-z0-9])[a-z]{2}\d{2}[ -]?[a-z0-9]{3}(?:[ -]?[a-z0-9]){8,27}"
        ),
        _iban,
        priority=7,
    ),
    Detector(
        "ssn",
        r"\d{3}[ -]\d{2}[ -]\d{4}|[Ss][Ss][Nn]|[Ss][Oo][Cc][Ii][Aa][Ll].?[Ss][Ee][Cc]",
        _c(
            r"(?<![\d-])(?P<a>\d{3})(?P<sep>[ -])(?P<g>\d{2})(?P=sep)(?P<s>\d{4})(?![\d-])"
            r"|(?i:(?<![a-z])(?:ssn|social[ _-]?security)(?![a-z]))[^\d\n]{0,24}?"
            r"(?<![\d-])(?P<ka>\d{3})(?P<kg>\d{2})(?P<ks>\d{4})(?![\d-])"
        ),
        _ssn,
        priority=8,
    ),
    Detector(
        "email",
        # letters of any script (an IDN domain, a Unicode local part); punycode is ASCII
        r"(?:@|%40)[^\s@.]{1,63}\.[^\s@.]",
        re.compile(
            r"(?<![\w.%+-])[\w.%+-]{1,64}(?:@|%40)[^\W_](?:[\w-]{0,61}[^\W_])?"
            r"(?:\.[^\W_](?:[\w-]{0,61}[^\W_])?)*\.[^\W\d_]{2,24}\b"
        ),
        priority=9,
    ),
    Detector(
        "phone",
        # international | trunk-0 national | NANP national (see the module docstring)
        r"\+[1-9][0-9 ().\-/]{5,}[0-9]|(?:^|[^0-9A-Za-z_+-])0[0-9 ().\-/]{5,}[0-9]"
        r"|\d{3}\) ?\d{3}[-.]\d{4}|\d{3}[-.]\d{3}[-.]\d{4}",
        _c(
            r"(?<![A-Za-z0-9+])\+(?P<intl>[1-9][0-9 ().\-/]{5,24}[0-9])"
            # 00 + country code + a separator: 0049 30 1234567 (not 006486630, an id)
            r"|(?<![\w+-])(?<!\d\d[ /.:-])00"
            r"(?P<idd>[1-9]\d{0,3}[ ().\-/][0-9 ().\-/]{4,22}[0-9])"
            r"|(?<![\w+-])(?<!\d\d[ /.:-])"
            r"(?P<nat>(?:\(0[1-9]\d{0,4}\)|0[1-9]\d{0,4})[ /-]\d{2,10}(?:[ -]\d{2,10}){0,4})"
            r"(?![A-Za-z_]*\d|[-.:/]\d)"
            r"|(?<![\w+-])(?<!\d\d[ /.:-])(?P<nanp>(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4})"
            r"(?![A-Za-z_]*\d|[-.:/]\d)"
        ),
        _phone,
        priority=10,
    ),
    Detector(
        "ipv6",
        # a valid address has "::" or 7 colons (6 before an embedded IPv4)
        r"::|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}|(?:[0-9A-Fa-f]{1,4}:){6}[0-9]",
        _c(
            r"(?<![A-Za-z0-9:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
            r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?"
        ),
        _ipv6,
        priority=11,
        ip=True,
    ),
    Detector(
        "ipv4",
        # dotted quads | hex parts | a URL's numeric host | after ip/host/addr (ip=3405803783)
        r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|0[xX][0-9A-Fa-f]{1,8}\.[0-9]"
        r"|[0-9]\.0[xX][0-9A-Fa-f]|://[0-9]|@[0-9]"
        r"|(?:[Ii][Pp]|[Hh][Oo][Ss][Tt]|[Aa][Dd][Dd][Rr])[A-Za-z0-9_-]{0,10}[^A-Za-z0-9\n]{1,4}"
        r"(?:[0-9]{8}|0[xX][0-9A-Fa-f]{6})",
        _c(
            r"(?<![A-Za-z0-9_.])(?P<q>\d{1,3}(?:\.\d{1,3}){3})(?!\d|\.\d)"
            r"|(?<![\w.])(?=[0-9A-Fa-fxX.]*?0[xX])(?P<h>" + _IP_PARTS + r"{1,3})(?![\w.])"
            r"|(?:(?<=://)|(?<=@))(?P<u>" + _IP_PARTS + r"{0,3})(?=[:/?#\s]|$)"
            r"|(?i:(?<![a-z])(?:ip|host|addr)(?:[_-]?(?:v4|addr|address))?)[\"']?\s*[:=]\s*"
            r"[\"']?(?P<k>\d{8,10}|0[xX][0-9A-Fa-f]{6,8})(?![\w.])"
        ),
        _ipv4,
        priority=12,
        ip=True,
    ),
)

DETECTORS: dict[str, Detector] = {
    d.name: d for d in (*SECRETS, *PERSONAL, *NATIONAL, *PHONES, *CONTEXT)
}

__all__ = ["DETECTORS", "Detector", "Finding", "resolve", "secret_name"]
