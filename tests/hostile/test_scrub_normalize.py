"""Normalize before scanning (issue 16, pipeline/scrub/normalize.py): values written with
full-width or other-script digits, zero-width or format characters, a full-width at sign, an
IDN domain, or an IPv4 address in a non-canonical form are found; the output keeps no form of
them (the tag replaces every original character of the value)."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import Cli
from tests.hostile.scrub_cases import COMMANDS, event, scrubbed

ZW = "\u200b"
WJ = "\u2060"
# full-width forms: U+FF10..U+FF19, U+FF20 (at sign), U+FF0E (full stop)
FULL = str.maketrans("0123456789@.", "".join(chr(0xFF10 + i) for i in range(10)) + "\uff20\uff0e")
WIDE = "".join(chr(0xFF41 + ord(c) - ord("a")) for c in "from")  # full-width letters
ARABIC = str.maketrans("0123456789", "".join(chr(0x0660 + i) for i in range(10)))
CARD = "4111111111111111"
SSN = "123-45-6789"
CASES = [
    # (text, what must not survive in any form: the ASCII digits or the written form)
    (f"card {CARD.translate(FULL)}", [CARD, CARD.translate(FULL)]),
    (f"card {ZW.join(CARD)}", [CARD, ZW.join(CARD)[:9]]),
    ("card " + WJ.join("4111 1111 1111 1111"), [WJ.join("4111")]),
    (f"ssn {SSN.translate(FULL)}", [SSN.translate(FULL)]),
    (f"ssn {SSN.translate(ARABIC)}", [SSN.translate(ARABIC)]),
    ("mail alice.sentinel\uff20example.org", ["alice.sentinel"]),
    (f"mail alice.sen{ZW}tinel@exa{ZW}mple.org", ["tinel@exa", "alice.sen"]),
    ("mail alice.sentinel@bücher-beispiel.de", ["alice.sentinel", "bücher-beispiel"]),
    ("mail alice.sentinel@xn--bcher-beispiel-vnc.de", ["alice.sentinel", "xn--bcher"]),
    ("mail jösé.sentinel@exämple.com", ["jösé.sentinel"]),
    ("from 203.000.113.007 again", ["203.000.113.007", "113.007"]),
    ("client ip=3405803783", ["3405803783"]),
    ("GET http://3405803783/admin", ["3405803783"]),
    ("see http://0x7f.0.0.1/ and 0xcb.0x0.0x71.0x7", ["0x7f.0.0.1", "0xcb.0x0.0x71.0x7"]),
    ("peer ::ffff:203.0.113.7 said", ["203.0.113.7", "ffff:203"]),
    ("peer 2001:0db8:0000:0000:0000:ff00:0042:8329 said", ["0042:8329", "ff00"]),
    ("AWS Secret Access Key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYSENTINELKEY", ["SENTINELKEY"]),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("text", "forms"), CASES)
def test_variants_are_found_and_no_form_survives(
    cli: Cli, command: str, text: str, forms: list[str]
) -> None:
    out = scrubbed(cli, command, event(details={"note": text}), forms)
    assert out["details"]["note"] != text
    assert out["pipeline"]["scrub"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("ip", ["3405803783", "0xcb007107", "203.000.113.007", "0313.0.0161.07"])
def test_the_ip_field_in_another_form_is_redacted(cli: Cli, command: str, ip: str) -> None:
    out = scrubbed(cli, command, event(actor={"id": "u", "type": "user", "ip": ip}), [ip])
    assert out["actor"]["ip"] == "[ipv4]"


@pytest.mark.parametrize("command", COMMANDS)
def test_text_around_a_finding_is_kept_as_written(cli: Cli, command: str) -> None:
    text = f"Grüße {WIDE} Zürich{ZW}: card {CARD.translate(FULL)} ok"
    out = scrubbed(cli, command, event(details={"note": text}), [CARD.translate(FULL)])
    assert (
        out["details"]["note"] == f"Grüße {WIDE} Zürich{ZW}: card [card] ok"
    )  # a mask needs ASCII digits
