"""A labelled corpus for the scrubber's accuracy suite, generated (never copied by hand).

``sensitive(rng)`` yields ``Sample(kind, value, fragment)``: ``value`` is what must not survive
scrubbing, ``fragment`` is how it appears in text (``db_password=<value>``, ``Bearer <value>``).
``benign(rng)`` yields look-alikes that must survive unchanged. ``embed`` puts fragments into
realistic free text. Everything is random but seeded, so a failure reproduces.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban

from tests.unit.scrub.lookalikes import BENIGN

#: kinds where a single miss is a failure (100 % required)
SECRET_KINDS = frozenset(
    {
        "card",
        "jwt",
        "private_key",
        "aws_access_key",
        "aws_secret_key",
        "github_token",
        "slack_token",
        "stripe_key",
        "google_api_key",
        "bearer_token",
        "url_credentials",
        "secret",
    }
)

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"


@dataclass(frozen=True)
class Sample:
    kind: str
    value: str
    fragment: str


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


# --- personal data ---------------------------------------------------------------------------

FIRST = ["alice", "bob", "chloé", "dmitri", "eva", "fatima", "gregor", "hiro", "ines", "jamal"]
DOMAINS = [
    "example.com",
    "mail.example.co.uk",
    "uni-heidelberg.de",
    "corp.example.io",
    "gmail.com",
    "yahoo.co.jp",
    "orange.fr",
    "example.com.br",
    "rediffmail.com",
]


def email(rng: random.Random) -> Sample:
    first = rng.choice(FIRST).replace("é", "e")
    last = _pick(rng, string.ascii_lowercase, rng.randint(3, 9))
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first}_{last}{rng.randint(1, 99)}",
            f"{first}+{rng.choice(['billing', 'test', 'x'])}",
            f"{first[0]}{last}",
            f"{first}.{last}".upper(),
            f"{first}-{last}.{rng.randint(1970, 2005)}",
        ]
    )
    value = f"{local}@{rng.choice(DOMAINS)}"
    return Sample("email", value, value)


PHONE_REGIONS = ["DE", "US", "GB", "FR", "IN", "BR", "JP", "ES", "IT", "NL", "AU", "MX", "ZA"]


def phone(rng: random.Random) -> Sample:
    region = rng.choice(PHONE_REGIONS)
    kind = rng.choice(
        [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    digits = str(example.national_number)
    for _ in range(50):
        nat = digits[:-4] + _pick(rng, string.digits, 4)
        number = phonenumbers.parse(f"+{example.country_code}{nat}", None)
        if phonenumbers.is_valid_number(number):
            break
    else:
        number = example
    style = rng.randrange(5)
    if style == 0:
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    elif style == 1:
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    elif style == 2:
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)[4:]
    elif style == 3:
        intl = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        value = intl.replace(" ", ".").replace("-", ".")
    else:
        nat_fmt = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        value = f"+{number.country_code} ({nat_fmt.lstrip('0')})".replace("((", "(")
        if not phonenumbers.is_valid_number(phonenumbers.parse(value, None)):
            value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Sample("phone", value, value)


# (brand prefixes, lengths)
CARD_BRANDS: list[tuple[list[str], list[int]]] = [
    (["4"], [16, 16, 13, 19]),  # Visa
    ([str(p) for p in range(51, 56)], [16]),  # Mastercard
    ([str(p) for p in range(2221, 2721, 37)], [16]),  # Mastercard 2-series
    (["34", "37"], [15]),  # Amex
    (["6011", "65"], [16, 19]),  # Discover
    (["36", "300", "305"], [14]),  # Diners
    ([str(p) for p in range(3528, 3590, 7)], [16]),  # JCB
    (["62"], [16, 19]),  # UnionPay
    (["6759", "6304"], [16, 18]),  # Maestro
]


def luhn_complete(body: str) -> str:
    for check in string.digits:
        digits = body + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _group(digits: str, sizes: list[int], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        if pos >= len(digits):
            break
        out.append(digits[pos : pos + size])
        pos += size
    if pos < len(digits):
        out.append(digits[pos:])
    return sep.join(out)


def card(rng: random.Random) -> Sample:
    prefixes, lengths = rng.choice(CARD_BRANDS)
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    number = luhn_complete(prefix + _pick(rng, string.digits, length - len(prefix) - 1))
    style = rng.randrange(4)
    if style == 0:
        value = number
    elif length == 15 and style == 1:
        value = _group(number, [4, 6, 5], " ")
    else:
        value = _group(number, [4, 4, 4, 4], " " if style != 3 else "-")
    return Sample("card", value, value)


# country -> BBAN format: n digits, a upper letters, c upper alphanumerics
# fmt: off
IBAN_FORMATS = {
    "DE": "18n", "AT": "16n", "CH": "5n12c", "GB": "4a14n", "IE": "4a14n", "FR": "10n11c2n",
    "ES": "20n", "IT": "1a10n12c", "NL": "4a10n", "BE": "12n", "PL": "24n", "PT": "21n",
    "SE": "20n", "DK": "14n", "NO": "11n", "FI": "14n", "LU": "3n13c", "CZ": "20n",
    "HU": "24n", "GR": "7n16c", "RO": "4a16c", "SK": "20n", "SI": "15n", "HR": "17n",
    "BG": "4a6n8c", "EE": "16n", "LT": "16n", "LV": "4a13c", "SA": "2n18c", "AE": "19n",
    "MT": "4a5n18c", "CY": "8n16c", "IS": "22n", "LI": "5n12c",
}
# fmt: on
_CLASSES = {
    "n": string.digits,
    "a": string.ascii_uppercase,
    "c": string.ascii_uppercase + string.digits,
}


def _bban(rng: random.Random, spec: str) -> str:
    out, num = [], ""
    for ch in spec:
        if ch.isdigit():
            num += ch
        else:
            out.append(_pick(rng, _CLASSES[ch], int(num)))
            num = ""
    return "".join(out)


def iban(rng: random.Random) -> Sample:
    country = rng.choice(sorted(IBAN_FORMATS))
    for _ in range(2000):
        bban = _bban(rng, IBAN_FORMATS[country])
        check = stdnum_iban.calc_check_digits(f"{country}00{bban}")
        number = f"{country}{check}{bban}"
        if stdnum_iban.is_valid(number):
            break
    else:  # national check digits we could not hit: use a country without them
        return iban(rng)
    value = number if rng.random() < 0.5 else stdnum_iban.format(number)
    return Sample("iban", value, value)


def ssn(rng: random.Random) -> Sample:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if rng.random() < 0.15:
        value = value.replace("-", " ")
    return Sample("ssn", value, value)


def ipv4(rng: random.Random) -> Sample:
    first = rng.choice([10, 172, 192, 203, 198, 81, 62, 100, 45, 8])
    value = f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return Sample("ipv4", value, value)


def ipv6(rng: random.Random) -> Sample:
    addr = ipaddress.IPv6Address(
        (0x2001 << 112) | (rng.getrandbits(96) << 16) | rng.randint(1, 0xFFFF)
    )
    if rng.random() < 0.3:  # zero runs so the compressed form has '::'
        addr = ipaddress.IPv6Address(int(addr) & ~(0xFFFFFFFF << 32) | rng.randint(1, 0xFFFF))
    value = addr.exploded if rng.random() < 0.2 else addr.compressed
    return Sample("ipv6", value, value)


# --- secrets ----------------------------------------------------------------------------------


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(rng: random.Random) -> Sample:
    header = {"alg": rng.choice(["HS256", "RS256", "ES256", "PS512", "EdDSA"]), "typ": "JWT"}
    if rng.random() < 0.3:
        header["kid"] = _pick(rng, ALNUM, 8)
    payload = {
        "sub": str(uuid.UUID(int=rng.getrandbits(128))),
        "iat": rng.randint(10**9, 2 * 10**9),
    }
    sig = _pick(rng, B64URL, rng.choice([43, 86, 342]))
    value = ".".join(
        [_b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode()), sig]
    )
    return Sample("jwt", value, value)


def private_key(rng: random.Random) -> Sample:
    label = rng.choice(
        [
            "RSA PRIVATE KEY",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "DSA PRIVATE KEY",
        ]
    )
    body = base64.b64encode(rng.randbytes(rng.choice([120, 600, 1190]))).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    nl = rng.choice(["\n", "\\n", "\r\n"])
    value = nl.join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])
    return Sample("private_key", value, value)


def aws_access_key(rng: random.Random) -> Sample:
    value = rng.choice(["AKIA", "ASIA"]) + _pick(rng, string.ascii_uppercase + "234567", 16)
    return Sample("aws_access_key", value, value)


def aws_secret_key(rng: random.Random) -> Sample:
    value = _pick(rng, ALNUM + "/+", 40)
    frag = rng.choice(
        [
            "aws_secret_access_key={v}",
            "AWS_SECRET_ACCESS_KEY: {v}",
            '"SecretAccessKey": "{v}"',
            "aws_secret_key = '{v}'",
            "secret_access_key={v}",
        ]
    ).format(v=value)
    return Sample("aws_secret_key", value, frag)


def github_token(rng: random.Random) -> Sample:
    if rng.random() < 0.25:
        value = f"github_pat_{_pick(rng, ALNUM, 22)}_{_pick(rng, ALNUM, 59)}"
    else:
        value = f"gh{rng.choice('pousr')}_{_pick(rng, ALNUM, 36)}"
    return Sample("github_token", value, value)


def slack_token(rng: random.Random) -> Sample:
    kind = rng.choice("abpr")
    value = (
        f"xox{kind}-{_pick(rng, string.digits, rng.randint(10, 13))}-"
        f"{_pick(rng, string.digits, rng.randint(10, 13))}-{_pick(rng, ALNUM, 24)}"
    )
    return Sample("slack_token", value, value)


def stripe_key(rng: random.Random) -> Sample:
    value = f"{rng.choice(['sk', 'rk'])}_live_{_pick(rng, ALNUM, rng.choice([24, 34, 99]))}"
    return Sample("stripe_key", value, value)


def google_api_key(rng: random.Random) -> Sample:
    value = "AIza" + _pick(rng, B64URL, 35)
    return Sample("google_api_key", value, value)


def bearer_token(rng: random.Random) -> Sample:
    if rng.random() < 0.3:
        value = base64.b64encode(f"svc-{rng.randint(1, 99)}:{_pick(rng, ALNUM, 16)}".encode())
        token = value.decode()
        return Sample("bearer_token", token, f"Authorization: Basic {token}")
    token = _pick(rng, ALNUM + "._~+/-", rng.randint(20, 64))
    frag = rng.choice(
        [
            "Authorization: Bearer {t}",
            "authorization=Bearer {t}",
            '"Authorization": "Bearer {t}"',
            "bearer {t}",
        ]
    ).format(t=token)
    return Sample("bearer_token", token, frag)


def url_credentials(rng: random.Random) -> Sample:
    user = rng.choice(["admin", "svc_billing", "root", "deploy", "app"])
    password = _pick(rng, ALNUM + "!$%^*()_+=-~.", rng.randint(8, 20))
    scheme = rng.choice(["postgres", "mysql", "https", "redis", "amqp", "mongodb+srv", "ftp"])
    host = rng.choice(["db.internal", "10.0.3.7", "cache.prod.example.com", "mq:5672"])
    value = f"{user}:{password}"
    return Sample("url_credentials", value, f"{scheme}://{value}@{host}/app")


SECRET_KEYS = [
    "password",
    "passwd",
    "pwd",
    "db_password",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "x-api-key",
    "access_key",
    "private_key",
    "SMTP_PASSWORD",
    "auth_token",
    "passphrase",
]


def secret(rng: random.Random) -> Sample:
    key = rng.choice(SECRET_KEYS)
    value = _pick(rng, ALNUM + "!$%^*()_+=-~.@#", rng.randint(8, 24))
    frag = rng.choice(
        ["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'", '{k} = "{v}"', "?user=bob&{k}={v}&x=1"]
    ).format(k=key, v=value)
    return Sample("secret", value, frag)


SENSITIVE: dict[str, Callable[[random.Random], Sample]] = {
    f.__name__: f
    for f in (
        email,
        phone,
        card,
        iban,
        ssn,
        ipv4,
        ipv6,
        jwt,
        private_key,
        aws_access_key,
        aws_secret_key,
        github_token,
        slack_token,
        stripe_key,
        google_api_key,
        bearer_token,
        url_credentials,
        secret,
    )
}


def benign(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(sorted(BENIGN))
    return kind, BENIGN[kind](rng)


# --- free text --------------------------------------------------------------------------------

TEMPLATES = [
    "{v}",
    "login failed for {v} from the mobile app",
    "customer wrote: please contact me at {v} asap, thanks!",
    "retrying upstream call with {v} (attempt 2/5)",
    "[2026-11-01T10:00:00Z] INFO handler: value {v} accepted; status=200",
    "note: {v}",
    "export requested; details: {v}; took 123 ms",
    "Webhook payload <{v}> rejected by receiver",
    "value='{v}', retries=3",
    "({v})",
    "Sehr geehrte Damen und Herren, bitte verwenden Sie {v}. Danke.",
    "ticket JIRA-4711 updated: {v}\nnext step: review",
    "{v}, requested by support",
]


def embed(rng: random.Random, fragments: list[str]) -> str:
    parts = [rng.choice(TEMPLATES).format(v=f) for f in fragments]
    return " | ".join(parts)


def corpus(
    seed: int,
    per_kind: int,
    benign_count: int,
    kinds: dict[str, Callable[[random.Random], Sample]] | None = None,
) -> Iterator[tuple[str, list[Sample], list[tuple[str, str]]]]:
    """Texts with their labels: ``(text, sensitive samples, benign (kind, value))``.

    Every sensitive kind (``kinds``, default ``SENSITIVE``) gets ``per_kind`` samples; about a
    fifth of texts carry two or three values (sensitive and benign mixed), the rest one.
    """
    rng = random.Random(seed)
    pending: list[Sample | tuple[str, str]] = []
    for make in (kinds or SENSITIVE).values():
        pending.extend(make(rng) for _ in range(per_kind))
    pending.extend(benign(rng) for _ in range(benign_count))
    rng.shuffle(pending)
    while pending:
        take = 1 if rng.random() < 0.8 else rng.randint(2, 3)
        batch, pending = pending[:take], pending[take:]
        samples = [s for s in batch if isinstance(s, Sample)]
        looks = [b for b in batch if not isinstance(b, Sample)]
        frags = [s.fragment if isinstance(s, Sample) else s[1] for s in batch]
        yield embed(rng, frags), samples, looks
