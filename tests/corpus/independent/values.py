"""Values for the independent corpus, from public formats only: national identifiers completed
until python-stdnum accepts them, passports in each country's printed format, phones varied
from libphonenumber's example numbers until it calls them valid, provider secrets in their
documented shapes, and look-alikes that fail every checksum the sensitive kinds carry."""

from __future__ import annotations

import base64
import itertools
import random
import string
from collections.abc import Callable
from datetime import date, timedelta

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum import ean, luhn
from stdnum.br import cpf
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.us import ssn

DIGITS, UPPER = string.digits, string.ascii_uppercase
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"


def _digits(rng: random.Random, n: int, first: str = DIGITS) -> str:
    return rng.choice(first) + "".join(rng.choice(DIGITS) for _ in range(n - 1))


def _complete(
    rng: random.Random, make: Callable[[], str], n_check: int, ok: Callable[[str], bool]
) -> str:
    """A prefix from ``make`` followed by the first ``n_check`` digits ``ok`` accepts."""
    while True:
        prefix = make()
        for tail in itertools.product(DIGITS, repeat=n_check):
            if ok(prefix + "".join(tail)):
                return prefix + "".join(tail)


# --- national identifiers: (compact value, its usual written forms) -------------------------


def br_cpf(rng: random.Random) -> list[str]:
    v = _complete(rng, lambda: _digits(rng, 9), 2, cpf.is_valid)
    return [cpf.format(v), v]


def in_aadhaar(rng: random.Random) -> list[str]:
    v = _complete(rng, lambda: _digits(rng, 11, "23456789"), 1, aadhaar.is_valid)
    return [aadhaar.format(v), v, f"{v[:4]}-{v[4:8]}-{v[8:]}"]


def in_pan(rng: random.Random) -> list[str]:
    while True:  # AAA + holder type + initial of the surname + 4 digits + a letter
        v = "".join(rng.choice(UPPER) for _ in range(3)) + rng.choice("PCHFAT")
        v += rng.choice(UPPER) + _digits(rng, 4) + rng.choice(UPPER)
        if pan.is_valid(v):
            return [v]


def fr_nir(rng: random.Random) -> list[str]:
    while True:
        body = rng.choice("12") + f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}"
        body += f"{rng.randint(1, 95):02d}{rng.randint(1, 990):03d}{rng.randint(1, 999):03d}"
        v = body + nir.calc_check_digits(body)
        if nir.is_valid(v):
            return [nir.format(v), v]


def es_dni(rng: random.Random) -> list[str]:
    body = _digits(rng, 8)
    v = body + dni.calc_check_digit(body)
    return [v, f"{body}-{v[-1]}", f"{body[:2]}.{body[2:5]}.{body[5:]}-{v[-1]}"]


def es_nie(rng: random.Random) -> list[str]:
    body = rng.choice("XYZ") + _digits(rng, 7)
    v = body + nie.calc_check_digit(body)
    return [v, f"{v[0]}-{v[1:8]}-{v[8]}"]


def it_codice_fiscale(rng: random.Random, fake: Faker) -> list[str]:
    while True:
        v = str(fake.ssn()).upper()
        if codicefiscale.is_valid(v):
            return [v]


def de_steuer_id(rng: random.Random) -> list[str]:
    def body() -> str:  # one digit twice or three times among the first ten, first digit not 0
        while True:
            b = _digits(rng, 10, "123456789")
            counts = sorted(b.count(d) for d in set(b))
            if len(set(b)) in (8, 9) and counts[-1] in (2, 3):
                return b

    v = _complete(rng, body, 1, idnr.is_valid)
    return [idnr.format(v), v]


def nl_bsn(rng: random.Random) -> list[str]:
    v = _complete(rng, lambda: _digits(rng, 8, "123456789"), 1, bsn.is_valid)
    return [v, f"{v[:4]}.{v[4:6]}.{v[6:]}"]


def pl_pesel(rng: random.Random) -> list[str]:
    born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 20000))
    month = born.month + (20 if born.year >= 2000 else 0)
    body = f"{born.year % 100:02d}{month:02d}{born.day:02d}" + _digits(rng, 4)
    return [body + pesel.calc_check_digit(body)]


def gb_nino(rng: random.Random) -> list[str]:
    bad_pairs = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    while True:
        pre = rng.choice("ABCEGHJKLMNOPRSTWXYZ") + rng.choice("ABCEGHJKLMNPRSTWXYZ")
        if pre not in bad_pairs:
            break
    num, suffix = _digits(rng, 6), rng.choice("ABCD")
    return [f"{pre}{num}{suffix}", f"{pre} {num[:2]} {num[2:4]} {num[4:]} {suffix}"]


def gb_nhs(rng: random.Random) -> list[str]:
    v = _complete(rng, lambda: _digits(rng, 9, "456789"), 1, nhs.is_valid)
    return [nhs.format(v), v, f"{v[:3]}-{v[3:6]}-{v[6:]}"]


def us_ssn(rng: random.Random) -> list[str]:
    while True:
        v = f"{rng.randint(1, 899):03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if ssn.is_valid(v):
            return [ssn.format(v), v]


NATIONAL: dict[str, Callable[[random.Random], list[str]]] = {
    "br_cpf": br_cpf,
    "in_aadhaar": in_aadhaar,
    "in_pan": in_pan,
    "fr_nir": fr_nir,
    "es_dni": es_dni,
    "es_nie": es_nie,
    "de_steuer_id": de_steuer_id,
    "nl_bsn": nl_bsn,
    "pl_pesel": pl_pesel,
    "gb_nino": gb_nino,
    "gb_nhs": gb_nhs,
    "us_ssn": us_ssn,
}
NATIONAL_COUNTRY = {
    "br_cpf": "pt_BR",
    "in_aadhaar": "en_IN",
    "in_pan": "en_IN",
    "fr_nir": "fr_FR",
    "es_dni": "es_ES",
    "es_nie": "es_ES",
    "it_codice_fiscale": "it_IT",
    "de_steuer_id": "de_DE",
    "nl_bsn": "nl_NL",
    "pl_pesel": "pl_PL",
    "gb_nino": "en_GB",
    "gb_nhs": "en_GB",
    "us_ssn": "en_US",
}
_CHECKED = (cpf, aadhaar, nir, dni, nie, idnr, bsn, pesel, nhs, codicefiscale)


def fails_every_check(value: str) -> bool:
    """True when no national validator and, for 13-19 digits, no Luhn check accepts it."""
    compact = "".join(c for c in value if c.isalnum())
    if any(m.is_valid(compact) for m in _CHECKED):
        return False
    return not (compact.isdigit() and 13 <= len(compact) <= 19 and luhn.is_valid(compact))


# --- passports, printed formats per issuing country ----------------------------------------

PASSPORT = {
    "en_US": lambda r: _digits(r, 9, "123456789"),
    "en_GB": lambda r: _digits(r, 9, "123456789"),
    "de_DE": lambda r: (
        r.choice("CFGHJK") + "".join(r.choice("CFGHJKLMNPRTVWXYZ0123456789") for _ in range(8))
    ),
    "fr_FR": lambda r: f"{_digits(r, 2)}{r.choice(UPPER)}{r.choice(UPPER)}{_digits(r, 5)}",
    "es_ES": lambda r: "".join(r.choice(UPPER) for _ in range(3)) + _digits(r, 6),
    "it_IT": lambda r: r.choice(UPPER) + r.choice(UPPER) + _digits(r, 7),
    "pt_BR": lambda r: r.choice(UPPER) + r.choice(UPPER) + _digits(r, 6),
    "nl_NL": lambda r: (
        "".join(r.choice("ABCDEFGHIJKLMNPRSTUVWXYZ") for _ in range(2))
        + "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(6))
        + _digits(r, 1)
    ),
    "pl_PL": lambda r: r.choice(UPPER) + r.choice(UPPER) + _digits(r, 7),
    "en_IN": lambda r: r.choice(UPPER) + _digits(r, 7),
}


# --- phones ---------------------------------------------------------------------------------

REGION = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "es_ES": "ES",
    "it_IT": "IT",
    "pt_BR": "BR",
    "nl_NL": "NL",
    "pl_PL": "PL",
    "en_IN": "IN",
}


def phone(rng: random.Random, locale: str) -> phonenumbers.PhoneNumber:
    region = REGION[locale]
    kind = rng.choice([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE])
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    digits = phonenumbers.national_significant_number(example)
    for attempt in itertools.count():  # vary more of the number while none comes out valid
        keep = max(1, len(digits) - rng.randint(4, 6) - attempt // 50)
        candidate = digits[:keep] + _digits(rng, len(digits) - keep)
        number = phonenumbers.parse("+" + str(example.country_code) + candidate)
        if phonenumbers.is_valid_number(number):
            return number
    raise AssertionError("unreachable")


def national_forms(number: phonenumbers.PhoneNumber) -> list[str]:
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    bare = "".join(c for c in national if c.isdigit())
    return [national, bare]


def international_forms(number: phonenumbers.PhoneNumber) -> list[str]:
    return [
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
    ]


# --- secrets, in the shapes their providers document ----------------------------------------


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64(rng: random.Random, n_bytes: int) -> str:
    return base64.b64encode(rng.randbytes(n_bytes)).decode()


def _jwt(rng: random.Random) -> str:
    def seg(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = seg(b'{"alg":"HS256","typ":"JWT"}')
    body = seg(
        f'{{"sub":"{rng.randint(1, 10**6)}","iat":{rng.randint(10**9, 2 * 10**9)}}}'.encode()
    )
    return f"{head}.{body}.{seg(rng.randbytes(32))}"


TOKENS: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key": lambda r: "AKIA" + _s(r, UPPER + "234567", 16),
    "github_token": lambda r: r.choice(["ghp_", "gho_", "ghs_"]) + _s(r, ALNUM, 36),
    "gitlab_token": lambda r: "glpat-" + _s(r, B64URL, 20),
    "slack_token": lambda r: f"xoxb-{_digits(r, 12)}-{_digits(r, 13)}-{_s(r, ALNUM, 24)}",
    "stripe_key": lambda r: r.choice(["sk_live_", "rk_live_"]) + _s(r, ALNUM, 24),
    "openai_key": lambda r: "sk-proj-" + _s(r, B64URL, 48),
    "twilio_key": lambda r: "SK" + _s(r, "0123456789abcdef", 32),
    "sendgrid_key": lambda r: f"SG.{_s(r, B64URL, 22)}.{_s(r, B64URL, 43)}",
    "npm_token": lambda r: "npm_" + _s(r, ALNUM, 36),
    "google_api_key": lambda r: "AIza" + _s(r, B64URL, 35),
    "jwt": _jwt,
}


def password(rng: random.Random) -> str:
    """A password as people pick them: punctuation anywhere, the first character included."""
    return _s(rng, "!&#%$*@?-_.", 1) * rng.randint(0, 1) + _s(
        rng, ALNUM + "!&#%$*@?-_.", rng.randint(10, 18)
    )


# --- benign look-alikes ---------------------------------------------------------------------


def _failing(rng: random.Random, make: Callable[[], str]) -> str:
    while True:
        v = make()
        if fails_every_check(v):
            return v


def _isbn13(rng: random.Random) -> str:
    while True:
        body = "978" + _digits(rng, 9)
        v = body + ean.calc_check_digit(body)
        if fails_every_check(v):
            return f"{v[:3]}-{v[3]}-{v[4:8]}-{v[8:12]}-{v[12]}"


def _day(rng: random.Random) -> date:
    return date(2019, 1, 1) + timedelta(days=rng.randint(0, 2500))


BENIGN: dict[str, Callable[[random.Random], str]] = {
    "order_number": lambda r: _failing(
        r,
        lambda: (
            r.choice(["", "ORD-", "#", "SO-"])
            + _digits(r, r.choice([8, 9, 10, 11, 12]), "123456789")
        ),
    ),
    "invoice_number": lambda r: (
        r.choice(["INV-", "RE-", "FA", "FV/"])
        + f"{r.randint(2019, 2026)}/{r.randint(1, 99999):05d}"
    ),
    "version": lambda r: (
        f"{r.randint(0, 12)}.{r.randint(0, 40)}.{r.randint(0, 99)}"
        + r.choice(["", "-rc.1", "+build.7"])
    ),
    "uuid": lambda r: "-".join(_s(r, "0123456789abcdef", n) for n in (8, 4, 4, 4, 12)),
    "timestamp": lambda r: (
        f"{_day(r).isoformat()}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:"
        f"{r.randint(0, 59):02d}.{r.randint(0, 999):03d}Z"
    ),
    "epoch_ms": lambda r: _failing(r, lambda: str(r.randint(1_500_000_000_000, 1_800_000_000_000))),
    "sha256": lambda r: _s(r, "0123456789abcdef", 64),
    "git_sha": lambda r: _s(r, "0123456789abcdef", r.choice([7, 12, 40])),
    "price": lambda r: (
        r.choice(["$", "€", "R$ ", "£", "zł ", "₹"])
        + f"{r.randint(1, 99999):,}.{r.randint(0, 99):02d}"
    ),
    "isbn": _isbn13,
    "tracking_number": lambda r: _failing(
        r,
        lambda: r.choice(
            [
                "1Z" + _s(r, UPPER + DIGITS, 16),
                "94" + _digits(r, 20),
                _digits(r, 10),
                "JD" + _digits(r, 16),
            ]
        ),
    ),
    "event_date": lambda r: _day(r).strftime(r.choice(["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"])),
    "checksum_failing_id": lambda r: _failing(
        r, lambda: r.choice([_digits(r, 11), _digits(r, 9), _digits(r, 12, "23456789")])
    ),
    "product_name": lambda r: r.choice(
        [
            "Street Fighter 6",
            "Wall Street Journal Digital",
            "Sesame Street Box Set",
            "Street Art Poster A2",
            "Baker Street Tea Blend",
        ]
    ),
    "duration": lambda r: f"{r.randint(1, 99999)}ms",
    "ticket_id": lambda r: r.choice(["JIRA", "OPS", "SEC", "INC"]) + f"-{r.randint(1, 99999)}",
}
