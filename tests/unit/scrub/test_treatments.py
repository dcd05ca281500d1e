"""Treatments and pseudonymization keys."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.scrub import ScrubKeys, dev_keys, load_keys_from_file, parse_keys
from pipeline.scrub.treatments import Pseudonymizer, ip_kind, mask, redact, truncate_ip

K1 = hashlib.sha256(b"K1").digest()  # key files refuse constant bytes (issue 16)
K2 = hashlib.sha256(b"K2").digest()


def test_redact_and_mask() -> None:
    assert redact("email") == "[email]"
    assert mask("4111 1111 1111 1234", "card") == "[card:…1234]"
    assert mask("DE89 3704 0044 0532 0130 00", "iban") == "[iban:…3000]"
    assert mask("ab", "card") == "[card]"


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        ("203.0.113.77", "203.0.113.0", "ipv4"),
        ("10.1.2.3", "10.1.2.0", "ipv4"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::", "ipv6"),
        ("::1", "::", "ipv6"),
        ("256.1.1.1", None, "ip"),
        ("01.2.3.4", None, "ip"),
        ("alice@example.com", None, "ip"),
    ],
)
def test_truncate_ip(value: str, expected: str | None, kind: str) -> None:
    assert truncate_ip(value) == expected
    assert ip_kind(value) == kind
    if expected is not None:
        assert truncate_ip(expected) == expected  # a fixed point


def test_pseudonyms_are_stable_per_key_and_carry_the_version() -> None:
    p1 = Pseudonymizer(ScrubKeys({"k1": K1}, "k1"))
    again = Pseudonymizer(ScrubKeys({"k1": K1}, "k1"))
    rotated = Pseudonymizer(ScrubKeys({"k1": K1, "k2": K2}, "k2"))
    a = p1("alice@example.com")
    assert a == again("alice@example.com")
    assert a.startswith("ps:k1:")
    assert a != p1("bob@example.com")
    b = rotated("alice@example.com")
    assert b.startswith("ps:k2:")
    assert b.split(":")[2] != a.split(":")[2]
    assert rotated.is_pseudonym(a)  # old versions are still recognised
    assert not p1.is_pseudonym("ps:k9:" + "0" * 32)
    assert not p1.is_pseudonym("ps:k1:alice@example.com")


def test_keys_are_validated() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        ScrubKeys({"k1": b"short"}, "k1")
    with pytest.raises(ConfigError, match="active version"):
        ScrubKeys({"k1": K1}, "k2")
    with pytest.raises(ConfigError, match="version"):
        ScrubKeys({"K:1": K1}, "K:1")
    assert "\\x11" not in repr(ScrubKeys({"k1": K1}, "k1"))


def test_parse_key_file_text() -> None:
    k2 = "base64:" + base64.b64encode(K2).decode()
    text = f"# keys\nactive = k2\nk1 = hex:{K1.hex()}\nk2 = {k2}\n"
    keys = parse_keys(text)
    assert keys.active == "k2"
    assert keys.keys == {"k1": K1, "k2": K2}
    with pytest.raises(ConfigError, match="<keys>:1: write the key as hex"):
        parse_keys(f"k1 = {K1.hex()}\nactive = k1")
    with pytest.raises(ConfigError, match="no 'active"):
        parse_keys(f"k1 = hex:{K1.hex()}")
    with pytest.raises(ConfigError, match=":2: key version 'k1' given twice"):
        parse_keys(f"k1 = hex:{K1.hex()}\nk1 = hex:{K1.hex()}\nactive = k1")


def test_load_keys_from_file_refuses_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "scrub.keys"
    path.write_text(f"active = k1\nk1 = hex:{K1.hex()}\n")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_keys_from_file(path)
    os.chmod(path, 0o600)
    assert load_keys_from_file(path).active_key == K1
    with pytest.raises(ConfigError, match="cannot read"):
        load_keys_from_file(tmp_path / "missing")


def test_dev_key_is_labelled() -> None:
    keys = dev_keys()
    assert keys.active == "dev"
    assert Pseudonymizer(keys)("x").startswith("ps:dev:")
