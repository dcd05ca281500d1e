"""Checksums and structure checks of the detectors."""

from __future__ import annotations

import base64

import pytest

from pipeline.scrub import validators as v


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("4111111111111111", True),  # Visa test number
        ("5500000000000004", True),  # Mastercard
        ("378282246310005", True),  # Amex
        ("6011111111111117", True),  # Discover
        ("4111111111111112", False),  # Luhn fails
        ("1234567812345670", False),  # Luhn passes, no issuer starts with 1
        ("411111111111", False),  # 12 digits
        ("37828224631000", False),  # Amex length 14
    ],
)
def test_card_needs_luhn_length_and_issuer(digits: str, ok: bool) -> None:
    assert v.card_ok(digits) is ok


def test_best_cards_finds_cards_inside_a_greedy_candidate() -> None:
    text = "12 4111 1111 1111 1111 7"
    assert [text[s:e] for s, e in v.best_cards(text)] == ["4111 1111 1111 1111"]
    text = "0 6222 0587 9158 9062 768 5500-0000-0000-0004"
    found = [text[s:e] for s, e in v.best_cards(text)]
    assert found == ["6222 0587 9158 9062 768", "5500-0000-0000-0004"]
    assert v.best_cards("4111 1111 1111 1112") == []
    assert v.best_cards("9400111899223345678901") == []  # 22 digits: no card


@pytest.mark.parametrize(
    ("area", "group", "serial", "ok"),
    [
        ("123", "45", "6789", True),
        ("000", "45", "6789", False),
        ("666", "45", "6789", False),
        ("900", "45", "6789", False),
        ("123", "00", "6789", False),
        ("123", "45", "0000", False),
        ("899", "99", "9999", True),
    ],
)
def test_ssn_ranges(area: str, group: str, serial: str, ok: bool) -> None:
    assert v.ssn_ok(area, group, serial) is ok


def test_iban_mod97_and_shrinking() -> None:
    assert v.iban_ok("DE89370400440532013000")
    assert not v.iban_ok("DE89370400440532013001")
    text = "DE89 3704 0044 0532 0130 00 ABC"
    span = v.best_iban(text)
    assert span is not None
    assert text[span[0] : span[1]] == "DE89 3704 0044 0532 0130 00"


def test_phone_uses_metadata() -> None:
    assert v.phone_ok("4930901820")
    assert v.phone_ok("14155552671")
    assert not v.phone_ok("999123")
    text = "+1 (415) 555-2671 2"
    span = v.best_phone(text)
    assert span is not None
    assert text[: span[1]] == "+1 (415) 555-2671"


def test_ip_checks() -> None:
    assert v.ipv4_ok("203.0.113.7")
    assert not v.ipv4_ok("256.1.1.1")
    assert not v.ipv4_ok("01.2.3.4")
    assert v.ipv6_ok("2001:db8::1")
    assert not v.ipv6_ok("10:00:00")
    assert not v.ipv6_ok("00:1a:2b:3c:4d:5e")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(header: bytes, sig: str = "c2ln") -> str:
    return ".".join([_b64(header), _b64(b'{"sub":"1"}'), sig])


def test_jwt_header_must_be_json_with_alg() -> None:
    assert v.jwt_ok(_jwt(b'{"alg":"HS256"}'))
    assert v.jwt_ok(_jwt(b'{"alg":"none"}', sig=""))
    assert not v.jwt_ok(_jwt(b'{"typ":"JWT"}'))
    assert not v.jwt_ok(_jwt(b"not json"))
    assert not v.jwt_ok("eyJhbGciOiJIUzI1NiJ9.only-two")


def test_iban_in_either_case_and_glued_to_a_word() -> None:
    text = "de89 3704 0044 0532 0130 00note"
    span = v.best_iban(text)
    assert span is not None
    assert text[span[0] : span[1]] == "de89 3704 0044 0532 0130 00"
    assert v.best_iban("DE89 3704 0044 0532 0130 01") is None  # mod 97 fails


def test_national_numbers_need_a_region_where_they_are_valid_and_nine_digits() -> None:
    assert v.best_national_phone("030 1234567", v.NATIONAL_REGIONS) == (0, 11)
    assert v.best_national_phone("(415) 555-2671", v.NANP_REGIONS) == (0, 14)
    assert v.best_national_phone("(415) 055-2671", v.NANP_REGIONS) is None  # no 0xx exchange
    assert v.best_national_phone("020 7946 0958 12", v.NATIONAL_REGIONS) == (0, 13)  # shrunk
    assert v.best_national_phone("01 11 2026", v.NATIONAL_REGIONS) is None  # 8 digits: a date


def test_iban_countries_come_from_stdnums_database() -> None:
    """The mod-97 pre-check's country list is read from python-stdnum through its public
    ``numdb`` ``info``: the IBAN countries, and no code that is not one."""
    countries = v._IBAN_COUNTRIES
    assert {"DE", "GB", "FR", "NL", "PL", "BR", "SA", "TR", "NO", "CH", "MT", "UA"} <= countries
    assert not {"US", "CA", "JP", "CN", "ZZ", "AA"} & countries
    assert len(countries) >= 80
    assert v.best_iban("GB82 WEST 1234 5698 7654 32") is not None
