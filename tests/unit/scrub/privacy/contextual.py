"""Identifiers only context marks, in en, de, fr, es, it, pt and nl: names after a salutation
or a label, birth dates, passport numbers, postal addresses, and the same in map keys. Look-
alikes: dates that are not birth dates, invoice and order numbers, product names with
"Street" in them, lower-case words after a name keyword."""

from __future__ import annotations

import random
import string

from tests.unit.scrub.privacy.labelled import Item, Maker, Text, one

FIRST = [
    "Ana",
    "João",
    "Chloé",
    "Jean-Luc",
    "Dmitri",
    "Fatima",
    "Grégoire",
    "Hiro",
    "Inés",
    "Jamal",
    "Liam",
    "Zoë",
    "Łukasz",
    "Søren",
    "Ngozi",
    "Priya",
    "Mateo",
    "Giulia",
]
LAST = [
    "Souza",
    "Müller",
    "O'Neil",
    "Picard",
    "García",
    "Rossi",
    "van der Berg",
    "Nowak",
    "Dubois",
    "Smith-Jones",
    "Kowalski",
    "de Oliveira",
    "Fernández",
    "Schröder",
    "Bianchi",
]
NAME_CONTEXT = [
    "customer name: {n}, order confirmed", "Dear {n},", "shipped to {n} (express)",
    "account holder {n}", "cardholder={n}", 'cardholder="{n}"', "Dear Mr. {n}, thanks",
    "Sehr geehrte Frau {n}, vielen Dank", "Kontoinhaber: {n}", "Cher {n}, merci",
    "Chère Mme {n},", "Estimado {n}:", "Titular: {n}", "Gentile {n}, grazie",
    "Prezado {n}, obrigado", "Geachte heer {n},", '{{"full_name": "{n}"}}',
]  # fmt: skip
DOB_CONTEXT = [
    "DOB: {d}", "date of birth {d}", "born on {d} in Lyon", "birthdate={d}",
    "Geburtsdatum: {d}", "geboren am {d}", "né le {d} à Paris", "date de naissance : {d}",
    "fecha de nacimiento {d}", "data di nascita: {d}", "data de nascimento {d}",
    '"dob": "{d}"', "geboortedatum {d}",
]  # fmt: skip
PASSPORT_CONTEXT = [
    "passport no. {p} issued", "Passport number: {p}", "Reisepass: {p}", "passeport {p}",
    "pasaporte n.º {p}", "passaporto {p}", "paspoort {p}", "passport={p}",
]  # fmt: skip
STREETS = [
    "Baker Street",
    "Hauptstraße",
    "Rue de Rivoli",
    "Calle Mayor",
    "Via Roma",
    "Rua Augusta",
    "Keizersgracht",
    "Main St.",
    "Hauptstr.",
    "Avenida Paulista",
]
CITIES = [
    "London NW1 6XE",
    "10115 Berlin",
    "75001 Paris",
    "28013 Madrid",
    "00184 Roma",
    "1100-048 Lisboa",
    "1015 CJ Amsterdam",
    "Springfield, IL 62704",
    "01310-100 São Paulo",
]
ADDRESS_CONTEXT = [
    "ship to: {a}", "Ship to {a}", "billing address: {a}", "address={a}", "shipping address {a}",
    "Lieferadresse: {a}", "Rechnungsadresse {a}", "adresse de livraison : {a}",
    "dirección: {a}", "indirizzo: {a}", "endereço: {a}", "adres: {a}",
]  # fmt: skip
TAILS = ["", " | status=ok", "\nnext: review", "; retries=0"]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)
    months = ["January", "March", "July", "October", "mars", "Mai", "enero", "giugno"]
    return rng.choice(
        [f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}",
         f"{d} {rng.choice(months)} {y}", f"{rng.choice(months[:4])} {d}, {y}"]
    )  # fmt: skip


def _passport(rng: random.Random) -> str:
    return rng.choice(
        [rng.choice(string.ascii_uppercase) + "".join(rng.choice(string.digits) for _ in range(8)),
         "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(7)) + "47",
         "".join(rng.choice(string.digits) for _ in range(9))]
    )  # fmt: skip


def _address(rng: random.Random) -> str:
    street = rng.choice(STREETS)
    number = str(rng.randint(1, 250)) + rng.choice(["", "", "B"])
    first = f"{number} {street}" if rng.random() < 0.5 else f"{street} {number}"
    return f"{first}, {rng.choice(CITIES)}"


def _fill(t: Text, template: str, slot: str, kind: str, value: str, rng: random.Random) -> None:
    pre, _, post = template.replace("{{", "{").replace("}}", "}").partition(slot)
    t.add(pre).value(kind, "context", value).add(post + rng.choice(TAILS))


def person_name(rng: random.Random) -> Item:
    item, t = one(rng.choice(["note", "message"]))
    _fill(t, rng.choice(NAME_CONTEXT), "{n}", "person_name", _name(rng), rng)
    return item


def birth_date(rng: random.Random) -> Item:
    item, t = one(rng.choice(["note", "kyc"]))
    _fill(t, rng.choice(DOB_CONTEXT), "{d}", "birth_date", _date(rng), rng)
    return item


def passport(rng: random.Random) -> Item:
    item, t = one(rng.choice(["note", "kyc"]))
    _fill(t, rng.choice(PASSPORT_CONTEXT), "{p}", "passport", _passport(rng), rng)
    return item


def postal_address(rng: random.Random) -> Item:
    item, t = one(rng.choice(["note", "order"]))
    _fill(t, rng.choice(ADDRESS_CONTEXT), "{a}", "postal_address", _address(rng), rng)
    return item


def context_map_key(rng: random.Random) -> Item:
    """``{"full_name": …}``, ``{"dob": …}``, ...: the key says what the value is."""
    key, value = rng.choice(
        [("full_name", _name(rng)), ("name", _name(rng)), ("dob", _date(rng)),
         ("date_of_birth", _date(rng)), ("passport_no", _passport(rng)),
         ("shipping_address", _address(rng)), ("customer_name", _name(rng))]
    )  # fmt: skip
    t = Text(key).value("context_map_key", "context", value)
    return Item([t, Text("note").add("profile updated")])


def context_lookalike(rng: random.Random) -> Item:
    item, t = one(rng.choice(["note", "message"]))
    shape = rng.randrange(8)
    if shape == 0:
        t.add("invoice date ").lookalike("other_date", _date(rng)).add(", due in 30 days")
    elif shape == 1:
        t.add("shipped on ").lookalike("other_date", _date(rng)).add(" via DHL")
    elif shape == 2:
        t.add("order ").lookalike("order_number", f"ORD-{rng.randint(10**6, 10**7)}")
        t.add(" shipped to warehouse 4")
    elif shape == 3:
        t.add("purchased ").lookalike(
            "product_name",
            rng.choice(["Street Fighter 6", "Wall Street Journal", "Sesame Street DVD"]),
        )
    elif shape == 4:
        t.add("Dear customer, your invoice ").lookalike(
            "invoice", f"INV-2026-{rng.randint(0, 999999):06d}"
        )
    elif shape == 5:
        mac = ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6))
        t.add("email address: [email], MAC address ").lookalike("mac_address", mac)
    elif shape == 6:
        t.add("passport check ").lookalike(
            "status_word", rng.choice(["passed", "pending", "failed"])
        )
    else:
        t.add("born-digital record ").lookalike("record_id", f"rec-{rng.randint(1000, 9999)}")
    return item


CONTEXTUAL: dict[str, Maker] = {
    "context_lookalike": context_lookalike,
    "context_map_key": context_map_key,
    "person_name": person_name,
    "birth_date": birth_date,
    "passport": passport,
    "postal_address": postal_address,
}
