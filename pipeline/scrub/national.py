"""National identifiers, confirmed by python-stdnum (its check digits and format rules; none
rewritten here): BR CPF, IN Aadhaar and PAN, FR NIR, ES DNI and NIE, IT codice fiscale,
DE Steuer-ID, NL BSN, PL PESEL, UK NHS number; the UK National Insurance number (which has
no check digit and no stdnum module) by HMRC's prefix and suffix rules.

Span rules. A number in a form that is distinctive on its own is found anywhere: CPF
``123.456.789-09``, Aadhaar ``2345 6789 0123``, NIR ``1 85 05 78 006 084 36``, DNI
``12345678Z``, NIE ``X1234567L``, codice fiscale, PAN ``ABCPE1234F``, Steuer-ID
``12 345 678 903``, BSN ``1234.56.782``, NHS ``943 476 5919``, NINO ``AB 12 34 56 C``.
Bare digit runs (11-digit CPF, Steuer-ID and PESEL, 12-digit Aadhaar, 15-digit NIR, 9-digit
BSN, 10-digit NHS) pass some check digit by chance too often (1 in 10 to 1 in 97), so they
count only after their keyword within 24 characters (``PESEL: 44051401359``,
``"cpf": "12345678909"``). A number that fails its check is a look-alike and is kept.
"""

from __future__ import annotations

import re
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

from pipeline.scrub.base import Detector, keyword_pattern, keyword_trigger
from pipeline.scrub.base import compile_ascii as _c

_SEP = re.compile(r"%20|[\s.\-/+]", re.ASCII)
#: a blank in a number after its keyword, as written or URL-encoded (``nhs=943%20476%205919``)
_BLANK = r"(?: |%20|\+)"


def _checked(
    is_valid: Callable[[str], bool],
) -> Callable[[str, re.Match[str]], list[tuple[int, int]]]:
    def check(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
        group = "f" if m["f"] is not None else "k"
        value = m[group]
        return [m.span(group)] if is_valid(_SEP.sub("", value).upper()) else []

    return check


def _keyword(words: tuple[str, ...], number: str) -> str:
    """A keyword, then within 24 non-digit characters the number (group ``k``); a blank in
    ``number`` may be URL-encoded (the number is a query parameter's value)."""
    number = number.replace("[ -]", "(?:[ -]|%20)").replace(" ", _BLANK)
    words = tuple(sorted(words + _GENERIC, key=len, reverse=True))
    return keyword_pattern(words) + r"[^\d\n]{0,24}?(?<![\d.])(?P<k>" + number + r")(?![\d])"


def _nino_ok(value: str) -> bool:
    prefix = value[:2]
    if prefix in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
        return False
    return prefix[0] not in "DFIQUV" and prefix[1] not in "DFIQUVO" and value[-1] in "ABCD"


def _national(
    name: str,
    written: tuple[str, str] | None,
    keyword: tuple[tuple[str, ...], str] | None,
    ok: Callable[[str], bool],
    priority: int = 8,
) -> Detector:
    """``written``: (trigger, pattern) of the distinctive form, found anywhere; ``keyword``:
    (words, number) of the forms found only after a keyword."""
    patterns, triggers = [], []
    if written is not None:
        triggers.append(written[0])
        patterns.append(r"(?P<f>" + written[1] + r")")
    if keyword is not None:
        triggers.append(keyword_trigger(keyword[0] + _GENERIC))
        patterns.append(_keyword(*keyword))
        if written is None:
            patterns.append(r"(?P<f>(?!))")  # the group exists; it never takes part
    return Detector(
        name, "|".join(triggers), _c("|".join(patterns)), _checked(ok), priority=priority
    )


#: words that name any national identifier, said next to each one's own keywords
_GENERIC = (
    "national id", "national_id", "nationalid", "national identifier", "tax_id", "taxid",
    "documento",
)  # fmt: skip
_AADHAAR = ("aadhaar", "aadhar", "uidai", "uid")
_NIR = ("nir", "insee", "secu", "sécu", "securite sociale", "sécurité sociale", "n° ss")
_IDNR = (
    "steuer-id", "steuerid", "steuer_id", "steuer-idnr", "idnr", "steueridentifikationsnummer",
    "tax id",
)  # fmt: skip
_BSN = ("bsn", "burgerservicenummer", "sofinummer", "sofi-nummer", "sofi")
_NHS = ("nhs", "nhs number", "nhs no")

NATIONAL: tuple[Detector, ...] = (
    _national(
        "br_cpf",
        (r"\d{3}\.\d{3}\.\d{3}-\d{2}", r"(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\d-])"),
        (("cpf",), r"\d{11}|\d{3}\.\d{3}\.\d{3}-?\d{2}"),
        cpf.is_valid,
    ),
    _national(
        "in_aadhaar",
        (
            r"[2-9]\d{3}[ -]\d{4}[ -]\d{4}",
            r"(?<!\d)(?<!\d[ -])[2-9]\d{3}[ -]\d{4}[ -]\d{4}(?![ -]?\d)",
        ),
        (_AADHAAR, r"[2-9]\d{11}|[2-9]\d{3}[ -]\d{4}[ -]\d{4}"),
        aadhaar.is_valid,
    ),
    _national(
        "in_pan",
        (
            r"[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]",
            r"(?<![A-Za-z0-9])[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z](?![A-Za-z0-9])",
        ),
        None,
        pan.is_valid,
    ),
    _national(
        "fr_nir",
        (
            r"[1-478] \d{2} \d{2} [0-9AB]{2} \d{3} \d{3} \d{2}",
            r"(?<!\d)(?<!\d )[1-478] \d{2} \d{2} (?:\d{2}|2[AB]) \d{3} \d{3} \d{2}(?!\d)",
        ),
        (_NIR, r"[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}"),
        nir.is_valid,
    ),
    _national(
        "es_dni",
        (
            r"\d{8}-?[A-Z]|\d{2}\.\d{3}\.\d{3}-?[A-Z]",
            r"(?<![A-Za-z0-9.\-])(?:\d{8}|\d{2}\.\d{3}\.\d{3})-?[A-Z](?![A-Za-z0-9])",
        ),
        None,
        dni.is_valid,
    ),
    _national(
        "es_nie",
        (r"[XYZ]-?\d{7}-?[A-Z]", r"(?<![A-Za-z0-9])[XYZ]-?\d{7}-?[A-Z](?![A-Za-z0-9])"),
        None,
        nie.is_valid,
    ),
    _national(
        "it_fiscal_code",
        (
            r"[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{2}[A-Za-z]"
            r"[0-9LMNP-Vlmnp-v]{3}[A-Za-z]",
            r"(?<![A-Za-z0-9])(?i:[A-Z]{6}[0-9LMNP-V]{2}[ABCDEHLMPRST][0-9LMNP-V]{2}[A-Z]"
            r"[0-9LMNP-V]{3}[A-Z])(?![A-Za-z0-9])",
        ),
        None,
        codicefiscale.is_valid,
    ),
    _national(
        "de_tax_id",
        (r"\d{2} \d{3} \d{3} \d{3}", r"(?<!\d)(?<!\d )\d{2} \d{3} \d{3} \d{3}(?! ?\d)"),
        (_IDNR, r"\d{11}|\d{2} \d{3} \d{3} \d{3}"),
        idnr.is_valid,
    ),
    _national(
        "nl_bsn",
        (r"\d{4}\.\d{2}\.\d{3}", r"(?<![\d.])\d{4}\.\d{2}\.\d{3}(?![\d.])"),
        (_BSN, r"\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3} \d{3} \d{3}"),
        bsn.is_valid,
    ),
    _national("pl_pesel", None, (("pesel",), r"\d{11}"), pesel.is_valid),
    _national(
        "uk_nhs",
        (r"\d{3}[ -]\d{3}[ -]\d{4}", r"(?<!\d)(?<!\d[ -])\d{3}[ -]\d{3}[ -]\d{4}(?![ -]?\d)"),
        (_NHS, r"\d{10}|\d{3}[ -]\d{3}[ -]\d{4}"),
        nhs.is_valid,
        priority=13,  # 415-555-2671 may pass the NHS check: a phone number names it
    ),
    _national(
        "uk_nino",
        (
            r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
            r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]"
            r"(?![A-Za-z0-9])",
        ),
        (
            ("nino", "ni number", "ni_number", "national insurance", "national_insurance"),
            r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
        ),
        _nino_ok,
    ),
)
