"""Values only context marks: person names, birth dates, passport numbers, postal addresses.

A keyword (in the locale's words: "customer name:", "Dear", "shipped to", "account holder",
"cardholder=", "Sehr geehrte", "Cher", "Estimado", "DOB", "date of birth", "born",
"Geburtsdatum", "né le", "passport", "Reisepass", "ship to", "billing address", "address=",
...) marks the span that follows, by these rules (each has tests, look-alikes included):

* name: after the keyword, an optional ``:``/``=``/quote and a title (Mr, Mrs, Dr, Herr,
  Frau, M., Mme, Sr., Sra., ...), then up to five capitalised words (any script's letters,
  ``-`` and ``'`` inside; particles like de, van, von, da, di, dos between them), ending at
  punctuation, a lower-case word or the line's end. A quoted value is taken whole.
  ``Dear customer`` has no capitalised word: nothing.
* birth date: the first date (ISO, ``dd.mm.yyyy``, ``dd/mm/yyyy``, ``mm-dd-yyyy``,
  ``3 March 1985``, ``March 3, 1985``) starting within 24 characters of the keyword. Dates
  after other words (invoice date, shipped on) are not birth dates.
* passport: within 24 characters, the first token of 6-9 letters and digits with at least
  two digits (``C01X00T47``, ``L898902C3``).
* address: after the keyword and an optional ``:``/``=``, the rest of the line up to 120
  characters, ending at ``|``, ``;``, ``&``, a quote, a tab or a sentence's end (a ``.``
  after a street abbreviation like ``St.`` does not end it). "address" after email, IP,
  MAC, URL, wallet, server, ... is not a postal address.

Map keys say it too (``full_name``, ``dob``, ``passport_no``, ``billing_address``, ...):
``key_kind`` in ``scrubber.py`` redacts such a value whole.
"""

from __future__ import annotations

import re

from pipeline.scrub.base import Detector, keyword_pattern, keyword_trigger
from pipeline.scrub.base import compile_ascii as _c

# --- names ---------------------------------------------------------------------------------

_NAME_WORDS: tuple[str, ...] = (
    "customer name", "full name", "account holder", "accountholder", "cardholder",
    "card holder", "holder name", "shipped to", "deliver to", "recipient", "dear",
    "first_name", "last_name", "full_name", "customer_name", "holder_name", "contact name",
    "sehr geehrte", "sehr geehrter", "kontoinhaber", "empfänger", "liebe", "lieber",
    "cher", "chère", "titulaire", "destinataire", "estimado", "estimada", "titular",
    "destinatario", "caro", "cara", "gentile", "intestatario", "geachte", "rekeninghouder",
    "szanowny", "szanowna", "prezado", "prezada", "nome", "nombre", "naam",
    # greetings, and a name key written in text (JSON, key=value)
    "hello", "hallo", "bonjour", "hola", "olá", "beste", "ontvanger", "odbiorca",
    "kundenname", "klantnaam", "imię i nazwisko", "holder_name", "cardholder_name",
    "recipient_name", "\"name\"", "'name'", "name=", "estimado/a", "prezado(a)",
    "sehr geehrte(r)", "destinatário", "właściciel rachunku", "nom du client", "nom complet",
    "nome do cliente", "nombre del cliente",
)  # fmt: skip
_TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "herr",
        "frau",
        "m",
        "mme",
        "mlle",
        "monsieur",
        "madame",
        "sr",
        "sra",
        "srta",
        "señor",
        "señora",
        "sig",
        "signor",
        "signora",
        "dhr",
        "heer",
        "mevrouw",
        "mw",
        "mevr",
        "pan",
        "pani",
    ]
)
_PARTICLES = frozenset(
    [
        "de",
        "da",
        "do",
        "dos",
        "das",
        "di",
        "del",
        "della",
        "van",
        "von",
        "der",
        "den",
        "ten",
        "ter",
        "le",
        "la",
        "du",
        "bin",
        "al",
        "y",
        "e",
        "zu",
    ]
)
_SEP = re.compile(r"[\"']?\s*(?:[:=]\s*)?[\"']?\s*")
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019-](?=[^\W\d_]))*\.?")
_QUOTED = re.compile(r"\s*[:=]?\s*([\"'])([^\"'\n]{1,80})\1")


#: the rest of a label after its keyword: "Nome cliente:", "Nombre del cliente:"
_LABEL_TAIL = re.compile(r"(?:[ \t]+[^\W\d_]+){1,3}[ \t]*:")


def _name(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    tail = _LABEL_TAIL.match(text, m.end())
    if tail is not None and tail.group().islower():
        return _name_at(text, tail.end())
    return _name_at(text, m.end())


def _name_at(text: str, after: int) -> list[tuple[int, int]]:
    q = _QUOTED.match(text, after)
    if q is not None:
        value = q.group(2).strip()
        if value and value[0].isupper():
            return [q.span(2)]
    pos = _SEP.match(text, after).end()  # type: ignore[union-attr]
    start = end = -1
    words = 0
    while words < 6:
        w = _WORD.match(text, pos)
        if w is None:
            break
        token = w.group().rstrip(".")
        low = token.lower()
        if start < 0 and low in _TITLES:
            pos = w.end()
        elif start < 0 and token[0].isupper() and text[w.end() : w.end() + 1] in (":", "="):
            break  # a label ("titular: CPF: …"), not a name
        elif token[0].isupper():
            start = w.start() if start < 0 else start
            end = w.start() + len(token)
            words += 1
            pos = w.end()
            if w.group().endswith(".") and len(token) > 1:
                break  # a sentence's end
            if text[pos : pos + 1] in (":", "="):
                break  # the name ends a salutation ("Estimado Hector Quesada:")
        elif start >= 0 and low in _PARTICLES:
            pos = w.end()
        else:
            break
        if pos < len(text) and text[pos] == " ":
            pos += 1
        else:
            break
    if start < 0:
        return []
    value = text[start:end]
    if words == 1 and value.isupper() and len(value) <= 4:
        return []  # an acronym alone ("titular: CPF nº …") is a label, not a name
    return [(start, end)]


# --- birth dates ---------------------------------------------------------------------------

_DOB_WORDS: tuple[str, ...] = (
    "dob", "d.o.b", "date of birth", "birth date", "birthdate", "birthday", "born",
    "geburtsdatum", "geboren", "geb.", "né le", "née le", "date de naissance",
    "fecha de nacimiento", "nacido el", "nacida el", "data di nascita", "nato il", "nata il",
    "data de nascimento", "nascido em", "geboortedatum", "data urodzenia", "urodzony",
    "birth_date", "date_of_birth", "nacimiento", "naissance", "nascita", "nascimento",
    "data nasc", "data ur", "geb. datum", "geb.-datum", "né(e) le", "nacido/a el",
    "data de nasc",
)  # fmt: skip
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril|juin"
    r"|juillet|août|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo"
    r"|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile"
    r"|maggio|giugno|luglio|settembre|ottobre|dicembre"
)
_DATE = re.compile(
    r"(?<!\d)(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})"
    r"|\d{1,2}\.? (?:" + _MONTHS + r")\.? \d{4}|(?:" + _MONTHS + r")\.? \d{1,2},? \d{4}"
    r"|\d{4}/\d{2}/\d{2})(?!\d)",
    re.IGNORECASE,
)


#: how far after its keyword a birth date or passport number may start (same line)
_GAP = 24


def _after(
    value: re.Pattern[str], width: int, text: str, m: re.Match[str]
) -> list[tuple[int, int]]:
    """The first ``value`` (at most ``width`` long) starting within ``_GAP`` characters after
    the keyword ``m``, on the keyword's line."""
    v = value.search(text, m.end(), m.end() + _GAP + width)
    if v is None or v.start() > m.end() + _GAP or "\n" in text[m.end() : v.start()]:
        return []
    return [v.span()]


def _birth_date(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    return _after(_DATE, 20, text, m)


# --- passports -----------------------------------------------------------------------------

_PASSPORT_WORDS: tuple[str, ...] = (
    "passport", "passport no", "passport number", "reisepass", "reisepassnummer", "passnummer",
    "passeport", "pasaporte", "passaporto", "paspoort", "paszport", "passaporte",
    "paspoortnummer", "paszportu", "pass-nr", "passport_no", "passport_number",
)  # fmt: skip
# a German passport number may hold a single digit (C, F-H, J-N, P, R, T, V-Z and digits)
_PASSPORT_NO = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]*\d)[A-Za-z0-9]{6,9}(?![A-Za-z0-9])")


def _passport(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    return _after(_PASSPORT_NO, 9, text, m)


# --- postal addresses ----------------------------------------------------------------------

_ADDRESS_WORDS: tuple[str, ...] = (
    "ship to", "shipped to address", "shipping address", "billing address", "delivery address",
    "postal address", "home address", "mailing address", "address", "lieferadresse",
    "rechnungsadresse", "anschrift", "adresse de livraison", "adresse de facturation",
    "adresse", "dirección", "direccion", "dirección de envío", "indirizzo", "endereço",
    "adres", "adres dostawy", "bezorgadres", "factuuradres", "domicilio", "deliver to",
    "delivered to", "shipped to", "shipping_address", "billing_address",
)  # fmt: skip
#: verbs that may take a place as well as an address: the address starts upper-case or a digit
_SHIPPED = frozenset(["deliver to", "delivered to", "shipped to"])
_STREET_ABBREV = re.compile(r"[a-z]{1,4}\. ")
_NOT_POSTAL = re.compile(
    r"(?i:e-?mail|ip|mac|url|web|wallet|server|bind|listen|remote|local|memory|return|"
    r"ipv4|ipv6|host|bitcoin|contract|reply-to|from|sender|forwarding)[\s_-]*$"
)
#: an address ends at a line end, a delimiter, a sentence's end or the next key=value pair
_ADDRESS_END = re.compile(
    r"[\n|;\"'&\t]|\.(?=\s|$)|,?\s(?=[A-Za-z_][\w.-]*=)"
    # a comma, then a lower-case label and a value with a digit ("…, invoice RE-2019/98")
    r"|,\s+(?=[a-z][\w-]*[ :=#]+[^\s,]*\d)"
)
_ABBREV = frozenset(
    [
        "st",
        "str",
        "ave",
        "av",
        "rd",
        "dr",
        "blvd",
        "apt",
        "no",
        "nr",
        "ln",
        "pl",
        "sq",
        "ct",
        "hwy",
        "bldg",
        "ste",
    ]
)


def _address(text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    if _NOT_POSTAL.search(text, max(0, m.start() - 20), m.start()):
        return []
    start = _SEP.match(text, m.end()).end()  # type: ignore[union-attr]
    limit = min(len(text), start + 120)
    pos = start
    while True:
        e = _ADDRESS_END.search(text, pos, limit)
        if e is None:
            end = limit
            break
        if e.group() == ".":
            word = re.search(r"(\w+)$", text[start : e.start()])
            abbrev = word.group(1).lower() if word is not None else ""
            if abbrev in _ABBREV or abbrev.endswith("str") or 0 < len(abbrev) <= 2:
                pos = e.end()
                continue
        end = e.start()
        break
    value = text[start:end].rstrip(" ,")
    if not any(ch.isdigit() for ch in value) or len(value) < 6:
        return []  # an address has a house number or a postcode
    if m.group().lower() in _SHIPPED and value[0].islower() and not _STREET_ABBREV.match(value):
        return []  # "shipped to warehouse 4": a place, not an address ("ul. Długa 5" is one)
    return [(start, start + len(value))]


def _longest_first(words: tuple[str, ...]) -> tuple[str, ...]:
    """Longer keywords first, so ``cardholder_name`` is taken whole, not as ``cardholder``."""
    return tuple(sorted(words, key=len, reverse=True))


_NAME_WORDS = _longest_first(_NAME_WORDS)
_DOB_WORDS = _longest_first(_DOB_WORDS)
_PASSPORT_WORDS = _longest_first(_PASSPORT_WORDS)
_ADDRESS_WORDS = _longest_first(_ADDRESS_WORDS)

CONTEXT: tuple[Detector, ...] = (
    Detector(
        "person_name",
        keyword_trigger(_NAME_WORDS),
        re.compile(keyword_pattern(_NAME_WORDS)),
        _name,
        priority=14,
    ),
    Detector(
        "birth_date",
        keyword_trigger(_DOB_WORDS),
        re.compile(keyword_pattern(_DOB_WORDS)),
        _birth_date,
        priority=14,
    ),
    Detector(
        "passport",
        keyword_trigger(_PASSPORT_WORDS),
        _c(keyword_pattern(_PASSPORT_WORDS)),
        _passport,
        priority=14,
    ),
    Detector(
        "postal_address",
        keyword_trigger(_ADDRESS_WORDS),
        re.compile(keyword_pattern(_ADDRESS_WORDS)),
        _address,
        priority=15,
    ),
)

#: map keys whose value is the kind whole (``{"full_name": "Ana Souza"}``)
KEY_KINDS: dict[str, str] = {
    **dict.fromkeys(
        ("name", "full_name", "fullname", "customer_name", "first_name", "last_name",
         "holder_name", "cardholder", "cardholder_name", "account_holder", "recipient_name"),
        "person_name",
    ),
    **dict.fromkeys(("dob", "date_of_birth", "birthdate", "birth_date", "birthday"), "birth_date"),
    **dict.fromkeys(("passport", "passport_no", "passport_number"), "passport"),
    **dict.fromkeys(
        ("address", "street", "street_address", "postal_address", "shipping_address",
         "billing_address", "home_address", "delivery_address"),
        "postal_address",
    ),
    # national identifiers named by their key: the key says it, whatever the check digit
    **{
        "cpf": "br_cpf", "aadhaar": "in_aadhaar", "aadhaar_number": "in_aadhaar",
        "pan_number": "in_pan", "nir": "fr_nir", "numero_securite_sociale": "fr_nir",
        "dni": "es_dni", "nie": "es_nie", "codice_fiscale": "it_fiscal_code",
        "steuer_id": "de_tax_id", "steuerid": "de_tax_id", "idnr": "de_tax_id", "bsn": "nl_bsn",
        "pesel": "pl_pesel", "nhs_number": "uk_nhs", "nino": "uk_nino",
        "national_insurance_number": "uk_nino", "ssn": "ssn",
    },
}  # fmt: skip
