"""Phone numbers that need libphonenumber's matcher (``phonenumbers.PhoneNumberMatcher``):

* ``phone_context``: after a phone word ("tel", "mobile", "callback", "SMS … sent to",
  "Telefon", "téléphone", "celular", ...), the first number starting within 40 characters on
  the same line, with leniency POSSIBLE (the right length for the region: unassigned ranges
  and numbers without separators count) and at least 8 digits; dates and times are not
  numbers. One written with ``+`` and a country code is taken as it is written (the matcher
  would only confirm what the phone word already says).
* ``phone_local``: anywhere, with leniency VALID (libphonenumber metadata): an area code in
  parentheses (``(760) 648 9939``, ``(11) 91390-0968``), or a trunk ``0`` and 9-10 digits
  without separators (``0612345678``).

Bare digit runs without a trunk 0 (``3714289971``) are phones only in a phone context: too
many ids, epochs and order numbers are valid numbers somewhere.
"""

from __future__ import annotations

import re

import phonenumbers

from pipeline.scrub.base import Detector, keyword_pattern, keyword_trigger
from pipeline.scrub.base import compile_ascii as _c

_WORDS = (
    "tel", "phone", "telephone", "callback", "call back", "mobile", "mob", "cell", "sms",
    "whatsapp", "fax", "sent to", "telefon", "handy", "rufnummer", "téléphone", "portable",
    "teléfono", "telefone", "celular", "telefono", "cellulare", "telefoon", "mobiel",
    "komórka", "rückruf", "rappeler au", "llamar al", "richiamare al", "retornar para",
    "ligar para", "terugbellen op", "oddzwonić na", "móvil", "movil", "msisdn",
)  # fmt: skip
#: regions tried in order, for numbers written without a country code
CONTEXT_REGIONS = ("US", "DE", "GB", "FR", "BR", "IT", "IN", "ES", "NL", "PL")
PAREN_REGIONS = ("US", "BR", "MX", "AR", "CO", "IN", "AU", "CN")
TRUNK_REGIONS = ("FR", "GB", "NL", "DE", "IT", "BE", "AU", "BR", "IN", "CH", "AT")
_WINDOW = 40  # the number starts within this many characters of the keyword
_LONGEST = 24  # and is at most this long as written
_DATE_OR_TIME = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}")
_LINE_END = re.compile(r"[\n|]")
#: where a number may start: a digit, "+" or "(" and then digits and separators
_CANDIDATE = re.compile(r"(?:%2[Bb]|[+(])?\d[\d ().\-/]{5,24}\d")
_POSSIBLE = phonenumbers.Leniency.POSSIBLE


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _match(
    text: str, regions: tuple[str, ...], leniency: int, min_digits: int
) -> tuple[int, int] | None:
    """The first number the matcher finds in ``text`` for the first region that has one."""
    for region in regions:
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
            raw = m.raw_string
            if _digits(raw) >= min_digits and not _DATE_OR_TIME.search(raw):
                return m.start, m.end
    return None


def _in_context(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    start = m.end()
    end = start + _WINDOW + _LONGEST
    cut = _LINE_END.search(text, start, end)
    end = cut.start() if cut is not None else min(end, len(text))
    for c in _CANDIDATE.finditer(text, start, end):
        if c.start() - start > _WINDOW:
            break
        cand = c.group()
        if _digits(cand) < 8 or _DATE_OR_TIME.match(cand):
            continue
        if cand.startswith(("+", "%2")):  # a country code, 8+ digits, after a phone word
            return [(c.start(), c.start() + len(cand.rstrip(" ().-/")))]
        # the matcher sees the candidate and what follows it on the line (its own checks)
        span = _match(text[c.start() : end], CONTEXT_REGIONS, _POSSIBLE, 8)
        if span is not None:
            return [(c.start() + span[0], c.start() + span[1])]
    return []


def _local(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    regions = PAREN_REGIONS if m["p"] is not None else TRUNK_REGIONS
    span = _match(m.group(), regions, phonenumbers.Leniency.VALID, 9)
    return [] if span is None else [(m.start() + span[0], m.start() + span[1])]


PHONES: tuple[Detector, ...] = (
    Detector(
        "phone_context",
        keyword_trigger(_WORDS),
        _c(keyword_pattern(_WORDS) + r"(?!/)"),  # not a user agent's Mobile/15E148
        _in_context,
        priority=10,
    ),
    Detector(
        "phone_local",
        r"\(\d{2,3}\) ?\d{3,5}[ .-]?\d{4}|0[1-9]\d{8,9}",
        _c(
            # not after a country code: +1 (415) 555-2671 is the international detector's
            r"(?<![\w+(-])(?<!\+\d )(?<!\+\d\d )(?<!\+\d\d\d )"
            r"(?P<p>\(\d{2,3}\) ?\d{3,5}[ .-]?\d{4})(?![\d-])"
            r"|(?<![\w+.-])0[1-9]\d{8,9}(?![\w-])"
        ),
        _local,
        priority=10,
    ),
)
