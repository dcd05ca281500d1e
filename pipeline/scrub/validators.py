"""Checksum and structure checks that turn a regex candidate into a finding.

Each check takes the candidate text (never logs it) and answers yes or no; the ``best_*``
helpers also shrink a greedy candidate (``4111 1111 1111 1111 2``) to the valid part.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import string
from types import MappingProxyType

import orjson
import phonenumbers
from stdnum import iban as _iban
from stdnum import numdb
from stdnum.exceptions import ValidationError

_DIGIT_RUNS = re.compile(r"\d+", re.ASCII)

# (prefix lo, prefix hi, allowed lengths): issuer identification ranges of the card brands
# we recognise (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir).
_IIN_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # Amex
    (37, 37, frozenset({15})),  # Amex
    (6011, 6011, frozenset(range(16, 20))),  # Discover
    (644, 649, frozenset(range(16, 20))),  # Discover
    (65, 65, frozenset(range(16, 20))),  # Discover
    (300, 305, frozenset(range(14, 20))),  # Diners Club
    (36, 36, frozenset(range(14, 20))),  # Diners Club
    (38, 39, frozenset(range(14, 20))),  # Diners Club
    (3528, 3589, frozenset(range(16, 20))),  # JCB
    (62, 62, frozenset(range(16, 20))),  # UnionPay
    (2200, 2204, frozenset(range(16, 20))),  # Mir
    (50, 50, frozenset(range(12, 20))),  # Maestro
    (56, 58, frozenset(range(12, 20))),  # Maestro
    (6304, 6304, frozenset(range(12, 20))),  # Maestro
    (6759, 6759, frozenset(range(12, 20))),  # Maestro UK
    (6761, 6763, frozenset(range(12, 20))),  # Maestro
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def known_iin(digits: str) -> bool:
    n = len(digits)
    for lo, hi, lengths in _IIN_RANGES:
        width = len(str(lo))
        if n in lengths and lo <= int(digits[:width]) <= hi:
            return True
    return False


def card_ok(digits: str) -> bool:
    """13-19 digits, a known issuer prefix and a valid Luhn check digit."""
    return 13 <= len(digits) <= 19 and known_iin(digits) and luhn_ok(digits)


def _group_ranges(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Contiguous runs of groups (i, j) holding 13-19 digits in all, longest first (at most
    19 per start: the cost stays linear in the groups, however many digits a run has)."""
    n = len(spans)
    ranges = []
    for i in range(n):
        digits = 0
        for j in range(i, n):
            digits += spans[j][1] - spans[j][0]
            if digits > 19:
                break
            if digits >= 13:
                ranges.append((i, j))
    ranges.sort(key=lambda r: (r[0] - r[1], r[0]))
    return ranges


def best_cards(candidate: str) -> list[tuple[int, int]]:
    """Spans (within ``candidate``) of the digit-group runs that are cards, longest first,
    not overlapping: ``12 4111 1111 1111 1111 7`` has one, two cards in a row have two."""
    spans = [m.span() for m in _DIGIT_RUNS.finditer(candidate)][:64]
    found: list[tuple[int, int]] = []
    taken: set[int] = set()
    for i, j in _group_ranges(spans):
        if taken.intersection(range(i, j + 1)):
            continue
        digits = "".join(candidate[s:e] for s, e in spans[i : j + 1])
        if 13 <= len(digits) <= 19 and card_ok(digits):
            found.append((spans[i][0], spans[j][1]))
            taken.update(range(i, j + 1))
    return found


def iban_ok(compact: str) -> bool:
    try:
        _iban.validate(compact)
    except ValidationError:
        return False
    return True


def _mod97(compact: str) -> bool:
    """The IBAN check (ISO 7064 mod 97-10) alone, for a known IBAN country: cheap, so
    stdnum's full validation (the country's format and length) runs only on the one
    candidate in 97 that passes it."""
    if compact[:2] not in _IBAN_COUNTRIES:
        return False
    moved = (compact[4:] + compact[:4]).translate(_LETTER_DIGITS)
    return moved.isdigit() and moved.isascii() and int(moved) % 97 == 1


_LETTER_DIGITS = MappingProxyType({ord(ch): str(ord(ch) - 55) for ch in string.ascii_uppercase})
_IBAN_DB = numdb.get("iban")
_IBAN_COUNTRIES = frozenset(
    # the country codes stdnum's IBAN database describes, asked through its public ``info``
    # (each code with its BBAN format); 676 look-ups, ~16 ms once at import
    code
    for code in (a + b for a in string.ascii_uppercase for b in string.ascii_uppercase)
    if _IBAN_DB.info(code)[0][1].get("bban")
)


def best_iban(candidate: str) -> tuple[int, int] | None:
    """The longest valid IBAN (mod 97 + country format) at the start of ``candidate``, in
    either case (``de89 3704 …`` is the account ``DE89 3704 …``): first ending where a group
    ends, then anywhere (an IBAN glued to a word, ``…0130 00note``). Spans are in
    ``candidate``; at most 20 checks."""
    if candidate[:2].upper() not in _IBAN_COUNTRIES:  # the pattern starts with two letters
        return None
    alnum = [i for i, ch in enumerate(candidate) if ch.isascii() and ch.isalnum()]
    compact = "".join(candidate[i] for i in alnum).upper()
    longest = min(34, len(compact))
    if longest < 15:
        return None

    def group_end(n: int) -> bool:
        return n == len(compact) or alnum[n] != alnum[n - 1] + 1

    if not compact[:2].isalpha() or not compact[2:4].isdigit():
        return None
    for n in sorted(range(15, longest + 1), key=lambda n: (not group_end(n), -n)):
        if _mod97(compact[:n]) and iban_ok(compact[:n]):
            return alnum[0], alnum[n - 1] + 1
    return None


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """US SSN ranges: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    a = int(area)
    return a != 0 and a != 666 and a < 900 and group != "00" and serial != "0000"


def phone_ok(digits: str) -> bool:
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def best_phone(candidate: str) -> tuple[int, int] | None:
    """Drop trailing digit groups until the rest is a valid international number."""
    spans = [m.span() for m in _DIGIT_RUNS.finditer(candidate)]
    for j in range(len(spans) - 1, -1, -1):
        digits = "".join(candidate[s:e] for s, e in spans[: j + 1])
        if len(digits) < 7:
            return None
        if len(digits) <= 15 and phone_ok(digits):
            return 0, spans[j][1]
    return None


#: where a number written in national format (trunk prefix 0, no country code) is tried, in
#: order: the first region whose metadata says "valid" wins. A wrong guess costs nothing (the
#: number is redacted either way); a region missing here means its national numbers are not
#: detected, so the list errs wide.
NATIONAL_REGIONS = ("DE", "GB", "FR", "NL", "IT", "AT", "CH", "BE", "AU", "JP", "IN")
#: NANP numbers written nationally: (415) 555-2671, 415-555-2671
NANP_REGIONS = ("US",)


def national_phone_ok(candidate: str, regions: tuple[str, ...]) -> bool:
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def best_national_phone(candidate: str, regions: tuple[str, ...]) -> tuple[int, int] | None:
    """Drop trailing digit groups until the rest (9 to 13 digits with the trunk 0 or area
    code) is valid in one of ``regions``; fewer digits is a date or a count, not a number."""
    spans = [m.span() for m in _DIGIT_RUNS.finditer(candidate)]
    for j in range(len(spans) - 1, 0, -1):
        end = spans[j][1]
        digits = sum(e - s for s, e in spans[: j + 1])
        if digits < 9:
            return None
        if digits <= 13 and national_phone_ok(candidate[:end], regions):
            return 0, end
    return None


def ipv4_ok(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def loose_ipv4(text: str) -> int | None:
    """The address ``text`` names in any form ``inet_aton`` reads, or None: 1-4 parts split by
    dots, each decimal, ``0x`` hex or ``0`` octal, the last filling the remaining bytes
    (``127.1``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``3405803783``); a dotted quad padded with
    zeros that is not octal (``203.000.113.089``) is read as decimal."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        value = _ipv4_part(part)
        if value is None:
            return None
        values.append(value)
    if len(parts) == 4 and any(v > 255 for v in values):
        decimal = [int(p) if p.isdigit() and len(p) <= 3 else 256 for p in parts]
        values = decimal if all(v <= 255 for v in decimal) else values
    *head, last = values
    rest = 8 * (4 - len(head))  # bits the last part fills
    if any(v > 255 for v in head) or last >> rest:
        return None
    number = 0
    for v in head:
        number = number << 8 | v
    return number << rest | last


def _ipv4_part(part: str) -> int | None:
    if not part or len(part) > 12 or not part.isascii():
        return None
    if part[:2] in ("0x", "0X"):
        digits = part[2:] or "0"
        return int(digits, 16) if all(c in "0123456789abcdefABCDEF" for c in digits) else None
    if not part.isdigit():
        return None
    if part[0] == "0" and len(part) > 1 and set(part) <= _OCTAL:
        return int(part, 8)
    if part[0] == "0" and len(part) > 3:
        return None
    return int(part)


_OCTAL = frozenset("01234567")


def ipv6_ok(text: str) -> bool:
    if text.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def jwt_ok(token: str) -> bool:
    """Three base64url parts whose first decodes to a JSON object with an ``alg``."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return False
    head = parts[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        doc = orjson.loads(raw)
    except (binascii.Error, ValueError):
        return False
    return isinstance(doc, dict) and "alg" in doc
