"""National identifiers in their usual written forms, in the locale's own words, and their
look-alikes: the same shapes with a wrong check digit, and bare digit runs without the
keyword that makes them an identifier. Valid numbers are made with python-stdnum's own
check-digit functions (or drawn until stdnum says valid), never copied from a table."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from stdnum.br import cpf
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel

from tests.unit.scrub.privacy.labelled import Item, Maker, one

D = string.digits
U = string.ascii_uppercase


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _draw(rng: random.Random, make: Callable[[], str], ok: Callable[[str], bool]) -> str:
    for _ in range(100_000):
        value = make()
        if ok(value):
            return value
    raise AssertionError("no valid number drawn")


def _spoil(rng: random.Random, value: str, ok: Callable[[str], bool], alphabet: str = D) -> str:
    """The same number with its last character changed so that the check fails."""
    while True:
        bad = value[:-1] + rng.choice(alphabet)
        if not ok(bad):
            return bad


# each: (valid compact number, written forms, keyword phrases in the locale)
def _cpf(rng: random.Random) -> str:
    return _draw(rng, lambda: _pick(rng, D, 11), cpf.is_valid)


def _aadhaar(rng: random.Random) -> str:
    return _draw(rng, lambda: rng.choice("23456789") + _pick(rng, D, 11), aadhaar.is_valid)


def _pan(rng: random.Random) -> str:
    return _draw(
        rng,
        lambda: _pick(rng, U, 3) + rng.choice("PCHFATBLJG") + _pick(rng, U, 1) + _pick(rng, D, 4)
        + _pick(rng, U, 1),
        pan.is_valid,
    )  # fmt: skip


def _nir(rng: random.Random) -> str:
    body = (
        rng.choice("12")
        + f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}"
        + rng.choice([f"{rng.randint(1, 95):02d}", "2A", "2B"])
        + _pick(rng, D, 6)
    )
    if body[5:7] in ("20",):
        body = body[:5] + "75" + body[7:]
    return body + nir.calc_check_digits(body)


def _dni(rng: random.Random) -> str:
    body = _pick(rng, D, 8)
    return body + dni.calc_check_digit(body)


def _nie(rng: random.Random) -> str:
    body = rng.choice("XYZ") + _pick(rng, D, 7)
    return body + nie.calc_check_digit(body)


def _cf(rng: random.Random) -> str:
    day = rng.randint(1, 28) + rng.choice([0, 40])
    body = (
        _pick(rng, U, 6)
        + f"{rng.randint(40, 99):02d}"
        + rng.choice("ABCDEHLMPRST")
        + f"{day:02d}"
        + rng.choice("ABCDEFGHILM")
        + _pick(rng, D, 3)
    )
    return body + codicefiscale.calc_check_digit(body)


def _idnr(rng: random.Random) -> str:
    return _draw(rng, lambda: rng.choice("123456789") + _pick(rng, D, 10), idnr.is_valid)


def _bsn(rng: random.Random) -> str:
    return _draw(rng, lambda: _pick(rng, D, 9), bsn.is_valid)


def _pesel(rng: random.Random) -> str:
    year = rng.randint(1940, 2010)
    month = rng.randint(1, 12) + (20 if year >= 2000 else 0)
    body = f"{year % 100:02d}{month:02d}{rng.randint(1, 28):02d}" + _pick(rng, D, 4)
    return body + pesel.calc_check_digit(body)


def _nhs(rng: random.Random) -> str:
    return _draw(rng, lambda: _pick(rng, D, 10), nhs.is_valid)


_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def _nino(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if prefix not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
            return prefix + _pick(rng, D, 6) + rng.choice("ABCD")


def _nino_bad(rng: random.Random, value: str) -> str:
    return rng.choice(["D", "F", "Q", "V"]) + value[1:-1] + rng.choice("ABCD")


def _groups(value: str, sizes: tuple[int, ...], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(value[pos : pos + size])
        pos += size
    return sep.join(out)


# kind -> (make, stdnum check, written forms (number -> as written), keyword templates
# ({n}: the number, compact or in a written form), phrases in the locale)
Form = Callable[[str], str]
Spec = tuple[
    Callable[[random.Random], str], Callable[[str], bool], list[Form], list[str], list[str]
]
SPECS: dict[str, Spec] = {
    "br_cpf": (
        _cpf,
        cpf.is_valid,
        [lambda v: f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"],
        ["CPF: {n}", '"cpf": "{n}"', "CPF nº {n}"],
        ["Cliente cadastrado com {x}, pedido aprovado.", "Dados do titular: {x}", "{x}"],
    ),
    "in_aadhaar": (
        _aadhaar,
        aadhaar.is_valid,
        [lambda v: _groups(v, (4, 4, 4), " "), lambda v: _groups(v, (4, 4, 4), "-")],
        ["Aadhaar No: {n}", "aadhaar={n}", "UIDAI number {n}"],
        ["KYC verified for applicant, {x}", "e-KYC request ({x}) accepted", "{x}"],
    ),
    "in_pan": (
        _pan,
        pan.is_valid,
        [lambda v: v],
        ["PAN: {n}"],
        ["TDS deducted; {x}; FY 2025-26", "Income tax profile {x} linked", "{x}"],
    ),
    "fr_nir": (
        _nir,
        nir.is_valid,
        [lambda v: _groups(v, (1, 2, 2, 2, 3, 3, 2), " ")],
        ["N° SS : {n}", "numéro de sécurité sociale {n}", "NIR={n}"],
        ["Assuré enregistré, {x}, caisse 751", "Attestation de droits : {x}", "{x}"],
    ),
    "es_dni": (
        _dni,
        dni.is_valid,
        [lambda v: v, lambda v: f"{v[:8]}-{v[8]}", lambda v: f"{v[:2]}.{v[2:5]}.{v[5:8]}-{v[8]}"],
        ["DNI: {n}"],
        ["Cliente con {x} dado de alta", "Titular de la cuenta: {x}", "{x}"],
    ),
    "es_nie": (
        _nie,
        nie.is_valid,
        [lambda v: v, lambda v: f"{v[0]}-{v[1:8]}-{v[8]}"],
        ["NIE {n}"],
        ["Residente extranjero, {x}, verificado", "{x}"],
    ),
    "it_fiscal_code": (
        _cf,
        codicefiscale.is_valid,
        [lambda v: v, lambda v: v.lower()],
        ["Codice Fiscale: {n}", "CF {n}"],
        ["Anagrafica cliente aggiornata ({x})", "Fattura intestata a {x}", "{x}"],
    ),
    "de_tax_id": (
        _idnr,
        idnr.is_valid,
        [lambda v: _groups(v, (2, 3, 3, 3), " ")],
        ["Steuer-ID: {n}", "Steueridentifikationsnummer {n}", "IdNr. {n}"],
        ["Lohnabrechnung für Mitarbeiter, {x}", "Angaben zur Person: {x}", "{x}"],
    ),
    "nl_bsn": (
        _bsn,
        bsn.is_valid,
        [lambda v: f"{v[:4]}.{v[4:6]}.{v[6:]}"],
        ["BSN: {n}", "burgerservicenummer {n}", "BSN {n}", "BSN-nummer {n}"],
        ["Klantgegevens bijgewerkt, {x}", "Aanvraag ontvangen ({x})", "{x}"],
    ),
    "pl_pesel": (
        _pesel,
        pesel.is_valid,
        [],
        ["PESEL: {n}", "nr PESEL {n}", '"pesel": "{n}"'],
        ["Dane klienta zaktualizowane, {x}", "Wniosek złożony przez osobę ({x})", "{x}"],
    ),
    "uk_nhs": (
        _nhs,
        nhs.is_valid,
        [lambda v: _groups(v, (3, 3, 4), " "), lambda v: _groups(v, (3, 3, 4), "-")],
        ["NHS number {n}", "NHS No: {n}"],
        ["Patient record opened, {x}", "Referral received ({x}) from GP", "{x}"],
    ),
    "uk_nino": (
        _nino,
        lambda v: True,
        [lambda v: v, lambda v: f"{v[:2]} {v[2:4]} {v[4:6]} {v[6:8]} {v[8]}"],
        ["NI number: {n}"],
        ["Payroll record for employee, {x}", "HMRC match on {x}", "{x}"],
    ),
}  # fmt: skip


def _national(kind: str) -> Maker:
    make, _ok, written, keyed, phrases = SPECS[kind]

    def gen(rng: random.Random) -> Item:
        item, t = one(rng.choice(["note", "message", "request"]))
        value = make(rng)
        # a distinctive written form alone, or a keyword and the number (compact or written)
        if written and (not keyed or rng.random() < 0.5):
            template, number = "{n}", rng.choice(written)(value)
        else:
            template = rng.choice(keyed)
            number = rng.choice([value, *(w(value) for w in written)])
        pre, _, post = rng.choice(phrases).partition("{x}")
        kpre, _, kpost = template.partition("{n}")
        t.add(pre + kpre).value(kind, "national_id", number).add(kpost + post)
        return item

    gen.__name__ = kind
    return gen


def national_lookalike(rng: random.Random) -> Item:
    """Same shapes with a wrong check digit, and valid-looking digit runs without keyword."""
    item, t = one(rng.choice(["note", "message"]))
    kind = rng.choice(sorted(SPECS))
    make, ok, written, _keyed, phrases = SPECS[kind]
    value = make(rng)
    if kind == "uk_nhs":  # 3-3-4 reads as a US phone number too; no area code starts with 1
        value = _draw(rng, lambda: "1" + _pick(rng, D, 9), nhs.is_valid)
    if kind == "uk_nino":
        bad = _nino_bad(rng, value)
    elif kind == "in_pan":  # no check digit: an unknown holder type instead
        bad = value[:3] + rng.choice("DEIKMNOQRSUVWXYZ") + value[4:]
    elif kind in ("es_dni", "es_nie", "it_fiscal_code"):
        bad = _spoil(rng, value, ok, U)
    else:
        bad = _spoil(rng, value, ok)
    if rng.random() < 0.5 or not written:
        # a number without the keyword that would make it an identifier
        label = rng.choice(["order", "invoice", "ticket", "shipment", "ref"])
        digits = _pick(rng, D, rng.choice([9, 10, 11, 12, 15]))
        t.add(f"{label} ").lookalike("id_without_keyword", digits).add(" processed")
        return item
    shown = rng.choice(written)(bad)
    pre, _, post = rng.choice(phrases).partition("{x}")
    t.add(pre).lookalike("failed_check_digit", shown).add(post)
    return item


NATIONAL: dict[str, Maker] = {
    "national_lookalike": national_lookalike,
    **{k: _national(k) for k in SPECS},
}
