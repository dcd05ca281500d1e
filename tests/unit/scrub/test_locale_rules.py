"""The span rules added for the independent corpus (issue 15), each with a look-alike."""

from __future__ import annotations

import pytest

from tests.unit.scrub.test_detectors import kinds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # national ids: generic words, URL-encoded blanks after the key, NINO after its key
        ("national_id=52030423740", [("pl_pesel", "52030423740")]),
        ("uid=505703048874&page=2", [("in_aadhaar", "505703048874")]),
        (
            "?insee=2%2069%2005%2043%20210%20487%2097&p=1",
            [("fr_nir", "2%2069%2005%2043%20210%20487%2097")],
        ),
        ("ni_number=LT%2032%2009%2014%20A&page=1", [("uk_nino", "LT%2032%2009%2014%20A")]),
        # names: greetings, a label's tail, a salutation ending in ':', JSON keys
        ("Bonjour Émile Colas,", [("person_name", "Émile Colas")]),
        ("Nome cliente: Flavio Aporti", [("person_name", "Flavio Aporti")]),
        ("Estimado/a Hector Quesada:", [("person_name", "Hector Quesada")]),
        ('{"cardholder_name": "Bethany Price"}', [("person_name", "Bethany Price")]),
        # birth dates, passports, addresses, phones in the locale's words
        ("F. nacimiento 16/04/1971", [("birth_date", "16/04/1971")]),
        ("Reisepassnummer: JZKLNHC2C", [("passport", "JZKLNHC2C")]),
        (
            "deliver to ul. Wyszyńskiego 79, 07-684 Śrem",
            [("postal_address", "ul. Wyszyńskiego 79, 07-684 Śrem")],
        ),
        (
            "bezorgadres: Laurensweg 6, 9456CC, Oldetrijne status=400",
            [("postal_address", "Laurensweg 6, 9456CC, Oldetrijne")],
        ),
        ("llamar al 612 72 45 49", [("phone_context", "612 72 45 49")]),
        ("Passwort: 8dhEV5KB&d70", [("secret", "8dhEV5KB&d70")]),
    ],
)
def test_finds(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "national_id=52030423741",  # fails the PESEL check
        "order 52030423740 shipped",  # a bare digit run, no word naming it
        "Hallo team, deploy done",
        "Nome cliente: desconhecido",
        "shipped to warehouse 4",
        "Reisepass check passed for Application",
        "ship to: Paseo Dionisio Portero 12, Albacete, invoice RE-2019/98472",
    ],
)
def test_keeps(text: str) -> None:
    found = kinds(text)
    if text.startswith("ship to"):  # the address stops before the invoice number
        assert found == [("postal_address", "Paseo Dionisio Portero 12, Albacete")]
    else:
        assert found == []
