"""More formats for the accuracy corpus: the ways values were seen to slip through before
(national phone numbers, lower-case and dash-grouped IBANs, bare SSNs after a keyword,
URL-encoded emails). Separate kinds, so the recall table shows each one."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import phonenumbers
from stdnum import iban as stdnum_iban

from pipeline.scrub.validators import NANP_REGIONS, NATIONAL_REGIONS
from tests.unit.scrub.corpus import Sample, email, iban

_PN = phonenumbers.PhoneNumberType
#: national formats the detector does not claim: no trunk prefix and no NANP shape
#: (Italian mobiles "312 345 6789", Spanish numbers) — see pipeline/scrub/detectors.py
_REGIONS = [*NATIONAL_REGIONS, *NANP_REGIONS]


def phone_national(rng: random.Random) -> Sample:
    while True:
        region = rng.choice(_REGIONS)
        example = phonenumbers.example_number_for_type(
            region, rng.choice([_PN.MOBILE, _PN.FIXED_LINE])
        )
        assert example is not None
        digits = str(example.national_number)
        nat = digits[:-4] + "".join(rng.choice(string.digits) for _ in range(4))
        number = phonenumbers.parse(f"+{example.country_code}{nat}", None)
        if not phonenumbers.is_valid_number(number):
            continue
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        if region in NANP_REGIONS and rng.random() < 0.4:  # (415) 555-2671 -> 415-555-2671
            sep = rng.choice(["-", "."])
            value = value.replace("(", "").replace(") ", sep).replace("-", sep)
        elif rng.random() < 0.2:  # international access code instead of "+"
            intl = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            value = "00" + intl[1:]
        if value.startswith(("0", "(")) or region in NANP_REGIONS:
            return Sample("phone_national", value, value)


def iban_variant(rng: random.Random) -> Sample:
    compact = iban(rng).value.replace(" ", "")
    grouped = stdnum_iban.format(compact)
    style = rng.randrange(4)
    if style == 0:
        value = compact.lower()
    elif style == 1:
        value = grouped.lower()
    elif style == 2:
        value = grouped.replace(" ", "-")
    else:
        value = f"{compact[:2]} {compact[2:4]} {grouped[5:]}"
    return Sample("iban_variant", value, value)


def ssn_keyword(rng: random.Random) -> Sample:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    value = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    frag = rng.choice(
        [
            "SSN: {v}",
            "ssn={v}",
            '"ssn": "{v}"',
            "social security number {v}",
            "Social Security No. {v}",
            "customer_ssn {v}",
            "SSN#{v}",
        ]
    ).format(v=value)
    return Sample("ssn_keyword", value, frag)


def email_urlencoded(rng: random.Random) -> Sample:
    value = email(rng).value.replace("+", "%2B").replace("@", "%40")
    frag = rng.choice(["{v}", "?email={v}&page=2", "/v1/users/{v}/profile", "to={v}"]).format(
        v=value
    )
    return Sample("email_urlencoded", value, frag)


FORMATS: dict[str, Callable[[random.Random], Sample]] = {
    f.__name__: f for f in (phone_national, iban_variant, ssn_keyword, email_urlencoded)
}
