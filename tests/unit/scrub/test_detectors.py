"""What each detector finds in free text, and the look-alikes it must leave alone."""

from __future__ import annotations

import sys

import pytest

from pipeline.errors import ConfigError
from pipeline.scrub.detectors import DETECTORS, Finding, resolve
from pipeline.scrub.engines import HyperscanScanner, Re2Scanner, ReScanner, build_scanner


def kinds(text: str) -> list[tuple[str, str]]:
    found = [f for d in DETECTORS.values() for f in d.find(text)]
    return [(f.kind, text[s:e]) for s, e, f, _ in resolve(found)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail bob.smith+x@mail.example.co.uk now", [("email", "bob.smith+x@mail.example.co.uk")]),
        ("call +49 30 901820 today", [("phone", "+49 30 901820")]),
        ("tel +44 20 7946 0958.", [("phone", "+44 20 7946 0958")]),
        ("card 5500-0000-0000-0004 ok", [("card", "5500-0000-0000-0004")]),
        ("amex 3782 822463 10005", [("card", "3782 822463 10005")]),
        ("iban GB82 WEST 1234 5698 7654 32", [("iban", "GB82 WEST 1234 5698 7654 32")]),
        ("ssn 078-05-1120", [("ssn", "078-05-1120")]),
        ("from 203.0.113.7:443", [("ipv4", "203.0.113.7")]),
        ("via http://10.1.2.3/x", [("ipv4", "10.1.2.3")]),
        ("client 2001:db8:85a3::8a2e:370:7334 ok", [("ipv6", "2001:db8:85a3::8a2e:370:7334")]),
        ("key AKIAIOSFODNN7EXAMPLE", [("aws_access_key", "AKIAIOSFODNN7EXAMPLE")]),
        (
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            [("aws_secret_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")],
        ),
        ("t ghp_" + "a" * 36, [("github_token", "ghp_" + "a" * 36)]),
        ("xoxb-1234567890-abcdefghij", [("slack_token", "xoxb-1234567890-abcdefghij")]),
        ("sk_live_" + "4" * 24, [("stripe_key", "sk_live_" + "4" * 24)]),
        ("AIza" + "B" * 35, [("google_api_key", "AIza" + "B" * 35)]),
        ("Authorization: Bearer abc.def-ghi", [("bearer_token", "abc.def-ghi")]),
        ("redis://app:s3cret@cache/0", [("url_credentials", "app:s3cret")]),
        ('{"db_password": "p\\"w"}', [("secret", 'p\\"w')]),
        ("x-api-key: abcdef123", [("secret", "abcdef123")]),
        ("client_secret='hunter2'", [("secret", "hunter2")]),
        # national phone numbers (trunk 0 or NANP) and 00 + country code
        ("call (415) 555-2671 now", [("phone", "(415) 555-2671")]),
        ("call 415-555-2671.", [("phone", "415-555-2671")]),
        ("Tel. 030 1234567", [("phone", "030 1234567")]),
        ("Tel. (030) 1234567", [("phone", "(030) 1234567")]),
        ("ring 020 7946 0958, ext 2", [("phone", "020 7946 0958")]),
        ("portable 06 12 34 56 78", [("phone", "06 12 34 56 78")]),
        ("Wien 01 234567890", [("phone", "01 234567890")]),
        ("tel 0049 30 1234567", [("phone", "0049 30 1234567")]),
        # IBANs in lower case, dash groups, a space after the country
        ("iban de89 3704 0044 0532 0130 00", [("iban", "de89 3704 0044 0532 0130 00")]),
        ("iban de89370400440532013000", [("iban", "de89370400440532013000")]),
        ("iban DE89-3704-0044-0532-0130-00", [("iban", "DE89-3704-0044-0532-0130-00")]),
        ("iban DE 89 3704 0044 0532 0130 00", [("iban", "DE 89 3704 0044 0532 0130 00")]),
        (
            "from DE89370400440532013000 GB82WEST12345698765432",
            [("iban", "DE89370400440532013000"), ("iban", "GB82WEST12345698765432")],
        ),
        # nine bare digits are an SSN only after the keyword
        ("SSN: 078051120", [("ssn", "078051120")]),
        ("social security number 078051120", [("ssn", "078051120")]),
        ('{"customer_ssn": "078051120"}', [("ssn", "078051120")]),
        # URL-encoded emails
        ("GET /u?email=alice%40example.com&p=2", [("email", "alice%40example.com")]),
        ("to bob%2Bx%40mail.example.co.uk", [("email", "bob%2Bx%40mail.example.co.uk")]),
    ],
)
def test_finds(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "release v1.2.3.4 deployed",
        "version 10.0.1.2",
        "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
        "lib 1.2.3.4.5",
        "order 4111111111111112",
        "ts 1730455200123",
        "event 0b9f3f8e-4f7e-4a8e-9a51-1d1c6f0c2f11",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "at 2026-11-01T10:00:00.123456Z in 10:00:05",
        "mac 00:1a:2b:3c:4d:5e",
        "arn:aws:iam::123456789012:role/Admin",
        "max_tokens=512 token_count=3",
        "amount EUR 1,234.56, HTTP 404",
        "ssn-like 666-12-3456 and 000-12-3456",
        "password=[secret] and token: ***",
        # not phone numbers: dates, times, versions, ids, grouped order numbers
        "on 01.11.2026 and 01/11/2026 from 09:00-17:30",
        "order 123456789 and 006486630, INV-2026-000123, v2.14.3-12-g3f2a1b9",
        "ref 4153 0053 7827 7396 and 6011 0635 1396 9371",
        "ssn lookups 12 of 078051120",  # a number, but the keyword is not right before it
        "path reports%2F2026%2Fq3.csv and user%40localhost",
        "dates 01 11 2026",
    ],
)
def test_leaves_look_alikes(text: str) -> None:
    assert kinds(text) == []


def test_bare_dotted_quad_counts_as_an_address() -> None:
    # the documented rule: without a version marker, a valid dotted quad is an IP (fail closed)
    assert kinds("build hosts 1.2.3.4 and 5.6.7.8") == [("ipv4", "1.2.3.4"), ("ipv4", "5.6.7.8")]


def test_private_key_block_and_a_truncated_one() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"
    assert kinds(f"key: {block} end") == [("private_key", block)]
    cut = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    assert kinds(f"x {cut}") == [("private_key", cut)]


def test_overlaps_merge_into_the_most_important_kind() -> None:
    merged = resolve([Finding(0, 10, "secret", 5), Finding(5, 25, "card", 6)])
    assert len(merged) == 1
    start, end, finding, exact = merged[0]
    assert (start, end, finding.kind, exact) == (0, 25, "secret", False)
    assert resolve([Finding(0, 4, "email", 9), Finding(6, 9, "ipv4", 12)])[1][3] is True


@pytest.mark.parametrize("scanner", [HyperscanScanner, Re2Scanner, ReScanner])
def test_engines_map_hits_to_strings(scanner: type) -> None:
    detectors = tuple(DETECTORS.values())
    names = [d.name for d in detectors]
    hits = scanner(detectors).scan(["nothing here", "mail a@b.example", "card 4111111111111111"])
    by_text = {(i, names[d]) for i, d in hits}
    assert (1, "email") in by_text
    assert (2, "card") in by_text
    if scanner is not Re2Scanner:  # RE2 sets say which patterns fired, not where
        assert not any(i == 0 for i, _ in by_text)


def test_auto_engine_falls_back_when_libraries_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detectors = tuple(DETECTORS.values())
    assert build_scanner("auto", detectors).name == "hyperscan"
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # import now raises ImportError
    assert build_scanner("auto", detectors).name == "re2"
    monkeypatch.setitem(sys.modules, "re2", None)
    assert build_scanner("auto", detectors).name == "re"
    with pytest.raises(ConfigError, match="not installed"):
        build_scanner("hyperscan", detectors)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=&8tL#x9 next", [("secret", "&8tL#x9")]),
        ("passwd: ;x9!Lq", [("secret", ";x9!Lq")]),
        (
            "AccountName=acct;AccountKey=ab+/cd==;EndpointSuffix=core.windows.net",
            [("secret", "ab+/cd==")],
        ),
        ("Server=x;Password=p@ss;w0rd;Encrypt=True", [("secret", "p@ss;w0rd")]),
        ("Cookie: sid=abc123; theme=dark | ok", [("cookie", "sid=abc123; theme=dark")]),
        ('"Cookie": "a=b; c=d"', [("cookie", "a=b; c=d")]),
        ("Set-Cookie: sid=abc; Path=/; HttpOnly", [("cookie", "sid=abc; Path=/; HttpOnly")]),
        ("redis://:p@ss#w%rd?@cache/0", [("url_credentials", ":p@ss#w%rd?")]),
        ("key SK" + "a1" * 16, [("twilio_key", "SK" + "a1" * 16)]),
        ("SG." + "a" * 22 + "." + "b" * 43, [("sendgrid_key", "SG." + "a" * 22 + "." + "b" * 43)]),
        ("t:glpat-" + "x" * 20, [("gitlab_token", "glpat-" + "x" * 20)]),
        ("npm_" + "A" * 36, [("npm_token", "npm_" + "A" * 36)]),
        ("use sk-proj-" + "ab_" * 20, [("openai_key", "sk-proj-" + "ab_" * 20)]),
        ("--api-key hunter2 --verbose", [("secret", "hunter2")]),
        ("<password>s3cr t</password>", [("secret", "s3cr t")]),
        ('{\\"password\\": \\"abc\\"}', [("secret", "abc")]),
        ("signing_key => x!y", [("secret", "x!y")]),
    ],
)
def test_finds_secrets_in_every_shape(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://api.example.com:8443/v1/items",
        "SKU-12345 and task-proj-123 done",
        "cookies_enabled=true token_expires_in=3600 password_reset_sent=true",
        "keyboard layout de, monkey patching off",
    ],
)
def test_leaves_secret_look_alikes(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CPF 111.444.777-35 ok", [("br_cpf", "111.444.777-35")]),
        ("cpf: 11144477735", [("br_cpf", "11144477735")]),
        ("aadhaar 2345 6789 0124", [("in_aadhaar", "2345 6789 0124")]),
        ("CF RSSMRA85T10A562S", [("it_fiscal_code", "RSSMRA85T10A562S")]),
        ("DNI 12345678Z", [("es_dni", "12345678Z")]),
        ("NIE X1234567L", [("es_nie", "X1234567L")]),
        ("Steuer-ID: 36574261809", [("de_tax_id", "36574261809")]),
        ("BSN 111222333", [("nl_bsn", "111222333")]),
        ("PESEL 44051401359", [("pl_pesel", "44051401359")]),
        ("NHS 943 476 5919", [("uk_nhs", "943 476 5919")]),
        ("NINO AB 12 34 56 C", [("uk_nino", "AB 12 34 56 C")]),
        ("PAN ABCPD1234E", [("in_pan", "ABCPD1234E")]),
    ],
)
def test_finds_national_identifiers(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CPF 111.444.777-36",  # wrong check digits
        "order 44051401359 and 111222333 shipped",  # no keyword: ids, not PESEL or BSN
        "DNI 12345678A",
        "PESEL 44051401358",
        "NINO QQ 12 34 56 C and AB 12 34 56 E",
        "compression enabled, 1 234 567 890",
        "account 123456789012 in arn:aws:iam::123456789012:role/x",
    ],
)
def test_leaves_national_look_alikes(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SMS code sent to 0612345678 at 12:05", [("phone_context", "0612345678")]),
        ("mobile: 3714289971", [("phone_context", "3714289971")]),
        ("callback 5550123456 please", [("phone_context", "5550123456")]),  # possible, not valid
        ("SMS sent at 2026-11-02 10:00:05 to 5551234567", [("phone_context", "5551234567")]),
        ("call (760) 648 9939", [("phone_local", "(760) 648 9939")]),
        ("contato (11) 91390-0968", [("phone_local", "(11) 91390-0968")]),
        ("client 0612345678 rappelé", [("phone_local", "0612345678")]),
    ],
)
def test_finds_phones_by_context_and_matcher(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 3714289971 shipped",  # a valid Italian mobile, but no phone word: an id
        "SMS queued at 2026-11-02 10:05 for delivery",
        "mobile app build 4711",
        "login from the mobile app | 123456789",
    ],
)
def test_leaves_phone_look_alikes(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer name: Ana Paula de Souza, ok", [("person_name", "Ana Paula de Souza")]),
        ("Dear Mr. John O'Neil-Smith,", [("person_name", "John O'Neil-Smith")]),
        ('cardholder="Chloé Müller"', [("person_name", "Chloé Müller")]),
        ("Sehr geehrte Frau Müller, danke", [("person_name", "Müller")]),
        ("born on 3 March 1985 in Paris", [("birth_date", "3 March 1985")]),
        ("Geburtsdatum: 02.03.1985", [("birth_date", "02.03.1985")]),
        ("passport no. C01X00T47 issued", [("passport", "C01X00T47")]),
        (
            "ship to: 221B Baker St. London NW1 6XE. Delivered",
            [("postal_address", "221B Baker St. London NW1 6XE")],
        ),
        (
            "billing address=Hauptstr. 5, 10115 Berlin&x=1",
            [("postal_address", "Hauptstr. 5, 10115 Berlin")],
        ),
    ],
)
def test_finds_values_context_marks(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Dear customer, thanks",
        "invoice date 2026-11-02, shipped on 03/11/2026",
        "Street Fighter 6 purchased; Wall Street Journal renewed",
        "passport check passed",
        "order ORD-1234567 shipped to warehouse 4",
        "email address: [email], MAC address 00:1a:2b:3c:4d:5e",
    ],
)
def test_leaves_context_look_alikes(text: str) -> None:
    assert kinds(text) == []


def test_map_keys_say_what_their_value_is() -> None:
    from pipeline.scrub.scrubber import key_kind

    assert key_kind("full_name") == "person_name"
    assert key_kind("DOB") == "birth_date"
    assert key_kind("passport_no") == "passport"
    assert key_kind("billing-address") == "postal_address"
    assert key_kind("format") is None


def test_every_kind_a_map_key_names_is_a_detector() -> None:
    from pipeline.scrub.context import KEY_KINDS

    assert set(KEY_KINDS.values()) <= set(DETECTORS)
    from pipeline.scrub.scrubber import key_kind

    assert key_kind("pesel") == "pl_pesel"
    assert key_kind("CPF") == "br_cpf"
