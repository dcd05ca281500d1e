"""National phone numbers as people write them in four locales and more: without separators,
with the area code in parentheses, and numbers libphonenumber calls possible but not valid
(unassigned ranges) after a phone word. Look-alikes: ids, epochs and timestamps, in and
out of a phone context."""

from __future__ import annotations

import random
import string

import phonenumbers

from tests.unit.scrub.privacy.labelled import Item, Maker, one

_PN = phonenumbers.PhoneNumberType
_FMT = phonenumbers.PhoneNumberFormat

CONTEXTS = {
    "US": ["SMS verification code sent to {n}", "callback number: {n}", "mobile {n}", "tel: {n}"],
    "DE": ["Telefon: {n}", "Rückruf erbeten unter Tel. {n}", "Handy {n}", "SMS an {n} gesendet"],
    "FR": ["téléphone : {n}", "portable {n}", "SMS envoyé au {n}", "tel. {n}"],
    "BR": ["celular: {n}", "telefone {n}", "WhatsApp {n}", "SMS enviado para {n}"],
    "IT": ["cellulare {n}", "telefono: {n}", "SMS inviato al {n}"],
    "ES": ["teléfono: {n}", "móvil: tel {n}", "SMS enviado al {n}"],
    "NL": ["telefoon {n}", "mobiel: {n}"],
    "GB": ["mobile: {n}", "phone {n}", "call back on tel {n}"],
}
TAILS = ["", " (verified)", ", thanks", " at 10:05", " — user 42", "\nnext step: review"]


def _valid(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    kind = rng.choice([_PN.MOBILE, _PN.FIXED_LINE])
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    digits = str(example.national_number)
    for _ in range(200):
        nat = digits[:-4] + "".join(rng.choice(string.digits) for _ in range(4))
        number = phonenumbers.parse(f"+{example.country_code}{nat}", None)
        if phonenumbers.is_valid_number(number):
            return number
    return example


def _national_digits(number: phonenumbers.PhoneNumber) -> str:
    text = phonenumbers.format_number(number, _FMT.NATIONAL)
    return "".join(ch for ch in text if ch.isdigit())


def phone_no_separator(rng: random.Random) -> Item:
    _item, t = one(rng.choice(["note", "contact", "message"]))
    region = rng.choice(sorted(CONTEXTS))
    value = _national_digits(_valid(rng, region))
    if value.startswith("0") and len(value) in (10, 11) and rng.random() < 0.4:
        template = rng.choice(["Kunde {n} erreicht", "client {n} rappelé", "{n}"])  # no keyword
    else:
        template = rng.choice(CONTEXTS[region])
    pre, _, post = template.partition("{n}")
    t.add(pre).value("phone_no_separator", "context", value).add(post + rng.choice(TAILS))
    return _item


def phone_paren(rng: random.Random) -> Item:
    _item, t = one(rng.choice(["note", "contact"]))
    region = rng.choice(["US", "BR"])
    text = phonenumbers.format_number(_valid(rng, region), _FMT.NATIONAL)
    if region == "US" and rng.random() < 0.5:
        text = text.replace("-", " ")  # (760) 648 9939
    if rng.random() < 0.5:
        template = rng.choice(CONTEXTS[region])
    else:
        template = rng.choice(["customer reached at {n}", "{n}", "contato {n} atualizado"])
    pre, _, post = template.partition("{n}")
    t.add(pre).value("phone_paren", "context", text).add(post + rng.choice(TAILS))
    return _item


def phone_possible(rng: random.Random) -> Item:
    """Possible (right length) but not valid (unassigned range), after a phone word."""
    _item, t = one(rng.choice(["note", "contact", "message"]))
    region = rng.choice(sorted(CONTEXTS))
    example = phonenumbers.example_number_for_type(region, _PN.MOBILE)
    assert example is not None
    length = len(str(example.national_number))
    while True:
        nat = rng.choice("123456789") + "".join(
            rng.choice(string.digits) for _ in range(length - 1)
        )
        number = phonenumbers.parse(f"+{example.country_code}{nat}", None)
        if phonenumbers.is_possible_number(number) and not phonenumbers.is_valid_number(number):
            break
    value = _national_digits(number)
    pre, _, post = rng.choice(CONTEXTS[region]).partition("{n}")
    t.add(pre).value("phone_possible", "context", value).add(post + rng.choice(TAILS))
    return _item


def phone_lookalike(rng: random.Random) -> Item:
    item, t = one(rng.choice(["note", "message"]))
    shape = rng.randrange(5)
    if shape == 0:
        t.add("order ").lookalike("order_number", str(rng.randint(10**9, 10**10 - 1)))
        t.add(" shipped")
    elif shape == 1:
        t.add("epoch ").lookalike("epoch_s", str(rng.randint(1_600_000_000, 1_900_000_000)))
    elif shape == 2:  # a timestamp in a phone context is not a number
        stamp = (
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 10:{rng.randint(0, 59):02d}"
        )
        t.add("SMS queued at ").lookalike("timestamp", stamp).add(" for delivery")
    elif shape == 3:
        t.add("mobile app build ").lookalike("build_number", str(rng.randint(1000, 99999)))
    else:
        t.add("tel. support ticket ").lookalike("ticket", f"#{rng.randint(1000, 999999)}")
    return item


PHONES: dict[str, Maker] = {
    "phone_lookalike": phone_lookalike,
    "phone_no_separator": phone_no_separator,
    "phone_paren": phone_paren,
    "phone_possible": phone_possible,
}
