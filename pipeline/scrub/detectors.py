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
  mobiles ``312 345 6789``, Spanish numbers).
* Cards need 13-19 digits (spaces or dashes allowed), a known issuer prefix and Luhn.
* IBANs are compact or in groups (spaces or dashes), upper or lower case, valid by country
  length/format and mod 97.
* US SSNs are ``123-45-6789`` or ``123 45 6789`` anywhere; nine bare digits only right after
  the words SSN or social security (``SSN: 123456789``) — other 9-digit numbers are ids.
* Emails are found URL-encoded too (``alice%40example.com``).
* Secrets with a fixed prefix (AWS key ids, GitHub, Slack, Google keys, JWTs) are found even
  when glued to other text: no word-boundary look-around, fail closed. Stripe keys keep a
  left boundary (``risk_live_monitoring`` is not a key).
* Secrets by key name: the key must *end* in a secret word (``db_password``, ``x-api-key``;
  not ``token_count``); the value ends at whitespace, ``&``, ``,``, ``;`` or a quote.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.scrub import validators as v

#: turns a precise match into the spans to treat (none: a look-alike)
Check = Callable[[str, "re.Match[str]"], "list[tuple[int, int]]"]

_TAG = re.compile(r"\[[a-z0-9_]+(?::[^\]]*)?\]|\*{3,}", re.ASCII)


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str
    priority: int


@dataclass(frozen=True)
class Detector:
    name: str
    trigger: str
    pattern: re.Pattern[str]
    check: Check | None = None
    secret: bool = False
    priority: int = 50
    ip: bool = False

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        pos = 0
        search = self.pattern.search
        while (m := search(text, pos)) is not None:
            spans = self.check(text, m) if self.check is not None else _value_span(m)
            out.extend(Finding(s, e, self.name, self.priority) for s, e in spans if e > s)
            # a check that shrank a greedy candidate (an IBAN followed by more groups) gives
            # the rest of the candidate back, so a second value right after it is seen
            last = max((e for _, e in spans), default=m.end())
            pos = last if m.start() < last < m.end() else max(m.end(), m.start() + 1)
        return out


def _value_span(m: re.Match[str]) -> list[tuple[int, int]]:
    """The first named group ``v*`` that took part, else the whole match; our own tags skip."""
    for name, value in m.groupdict().items():
        if name.startswith("v") and value is not None:
            return [] if _TAG.fullmatch(value) else [m.span(name)]
    return [m.span()]


def _c(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | flags)


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


_VERSION_BEFORE = _c(r"(?:[A-Za-z0-9_]/|(?i:version|ver|release|build|rev|v)[\s:=#]{0,3})$")


def _ipv4(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    if not v.ipv4_ok(m.group()):
        return []
    if _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
        return []
    return [m.span()]


def _ipv6(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    if not v.ipv6_ok(m.group()):
        return []
    end = m.end()
    while end < len(text) and text[end].isascii() and text[end].isalnum():
        end += 1  # glued to a word: cover it, so the finding is redacted, not truncated
    return [(m.start(), end)]


def _jwt(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    return [m.span()] if v.jwt_ok(m.group()) else []


# --- the registry --------------------------------------------------------------------------

# the key names that mark a secret (not a secret)
_SECRET_WORDS = (
    r"password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"  # noqa: S105
    r"|private[_-]?key|secret[_-]?key|client[_-]?secret|credentials?"
)
_SECRET_NAME = _c(r"(?i)[A-Za-z0-9_.-]{0,40}(?:" + _SECRET_WORDS + r")")


def secret_name(key: str) -> bool:
    """A map key that names a secret, by the rule of the ``secret`` detector (ends in a secret
    word: ``db_password``, ``x-api-key``; not ``token_count``)."""
    return _SECRET_NAME.fullmatch(key) is not None


_AWS_ID_PREFIX = r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)"

DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in (
        Detector(
            "private_key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY",
            _c(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*)",
                re.DOTALL,
            ),
            secret=True,
            priority=0,
        ),
        Detector(
            "jwt",
            r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.",
            _c(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
            _jwt,
            secret=True,
            priority=1,
        ),
        Detector(
            "url_credentials",
            r"://[^\s/?#@:]+:[^\s/?#@]*@",
            _c(r"(?i)[a-z][a-z0-9+.-]{0,20}://(?P<v>[^\s/?#@:]+:[^\s/?#@]*)@"),
            secret=True,
            priority=2,
        ),
        Detector(
            "aws_access_key",
            _AWS_ID_PREFIX + r"[A-Z0-9]{16}",
            _c(_AWS_ID_PREFIX + r"[A-Z0-9]{16}"),
            secret=True,
            priority=3,
        ),
        Detector(
            "aws_secret_key",
            r"(?i)(?:aws_?secret|secret_?access_?key)",
            _c(
                r"(?i)(?:aws_?secret(?:_?access)?_?key|secret_?access_?key)[\"']?\s*[:=]\s*"
                r"[\"']?(?P<v>[A-Za-z0-9/+]{40}[A-Za-z0-9/+=]*)"
            ),
            secret=True,
            priority=3,
        ),
        Detector(
            "github_token",
            r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}",
            _c(
                r"(?:gh[pousr]_[A-Za-z0-9]{36,251}"
                r"|github_pat_[A-Za-z0-9_]{22,251})"
            ),
            secret=True,
            priority=3,
        ),
        Detector(
            "slack_token",
            r"xox[abposr]-[A-Za-z0-9-]{10}",
            _c(r"xox[abposr]-[A-Za-z0-9-]{10,250}"),
            secret=True,
            priority=3,
        ),
        Detector(
            "stripe_key",
            r"[sr]k_(?:live|test)_[A-Za-z0-9]{10}",
            _c(r"(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{10,247}"),
            secret=True,
            priority=3,
        ),
        Detector(
            "google_api_key",
            r"AIza[0-9A-Za-z_-]{35}",
            _c(r"AIza[0-9A-Za-z_-]{35}"),
            secret=True,
            priority=3,
        ),
        Detector(
            "bearer_token",
            r"(?i)(?:bearer|authorization)",
            _c(
                r"(?i)(?:\bbearer\s+(?P<v1>[A-Za-z0-9._~+/=-]{6,})"
                r"|\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
                r"(?:(?:bearer|basic|digest|token|negotiate)\s+)?(?P<v2>[^\s,;\"']{6,}))"
            ),
            secret=True,
            priority=4,
        ),
        Detector(
            "secret",
            r"(?i)(?:" + _SECRET_WORDS + r")",
            _c(
                r"(?i)(?<![A-Za-z0-9])[A-Za-z0-9_.-]{0,40}(?:" + _SECRET_WORDS + r")[\"']?"
                r"\s*[:=]\s*(?:\"(?P<v1>(?:[^\"\\]|\\.)*)\"|'(?P<v2>[^']*)'"
                r"|(?P<v3>[^\s&,;\"'}{]+))"
            ),
            secret=True,
            priority=5,
        ),
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
            r"(?:@|%40)[A-Za-z0-9-]+\.[A-Za-z0-9]",
            _c(
                r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}(?:@|%40)[A-Za-z0-9]"
                r"(?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                r"[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b"
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
            r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
            _c(r"(?<![A-Za-z0-9_.])\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)"),
            _ipv4,
            priority=12,
            ip=True,
        ),
    )
}


def resolve(findings: list[Finding]) -> list[tuple[int, int, Finding, bool]]:
    """Merge overlapping findings into one span each; the most important kind names it.

    Returns ``(start, end, finding, exact)`` sorted by position; ``exact`` is False when the
    span grew by merging, so a kind-specific treatment (mask, truncate) would not fit it and
    the caller redacts instead (fail closed: ``password=4111 1111 ...`` leaks nothing).
    """
    if not findings:
        return []
    ordered = sorted(findings, key=lambda f: (f.start, -f.end))
    groups: list[tuple[int, int, Finding]] = []
    for f in ordered:
        if groups and f.start < groups[-1][1]:
            start, end, best = groups[-1]
            groups[-1] = (start, max(end, f.end), f if f.priority < best.priority else best)
        else:
            groups.append((f.start, f.end, f))
    return [(s, e, f, (s, e) == (f.start, f.end)) for s, e, f in groups]
