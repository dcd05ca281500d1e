"""Key strength (issue 16): weak HMAC keys (constant, repeated, counting, text) are refused with
how to make a good one; ``auditpipe keys generate-hmac`` makes one that is accepted."""

from __future__ import annotations

import secrets
from pathlib import Path

import orjson
import pytest

from pipeline.cli.safe import EXIT_OK, EXIT_UNUSABLE
from pipeline.produce.generator import EventGenerator
from pipeline.scrub.keys import check_key_strength
from tests.hostile.conftest import Cli

EVENT = orjson.dumps(next(iter(EventGenerator(seed=9).events()))) + b"\n"

WEAK = {
    "32 identical characters": b"a" * 32,
    "all zeros": bytes(32),
    "repeated pattern": b"\xde\xad\xbe\xef" * 8,
    "half repeated": secrets.token_bytes(16) * 2,
    "counting": bytes(range(40, 72)),
    "passphrase": b"correct horse battery staple 123",
    "dictionary word": b"passwordpasswordpasswordpassword",
    "few values": bytes(secrets.choice(b"\x01\x02\x03\x04\x05") for _ in range(64)),
}


@pytest.mark.parametrize("name", sorted(WEAK))
def test_weak_keys_are_refused_with_a_hint(cli: Cli, tmp_path: Path, name: str) -> None:
    key = WEAK[name]
    keys = tmp_path / "keys.txt"
    keys.write_text(f"active = k1\nk1 = hex:{key.hex()}\n")
    keys.chmod(0o600)
    r = cli("scrub", "--keys", str(keys), stdin=EVENT).check(EXIT_UNUSABLE, sentinels=[key.hex()])
    assert "the key is weak" in r.err
    assert "auditpipe keys generate-hmac" in r.err
    assert r.out == ""


def test_random_keys_pass() -> None:
    for _ in range(2000):
        check_key_strength(secrets.token_bytes(32), "test")
        check_key_strength(secrets.token_bytes(64), "test")


def test_generate_hmac(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "scrub.keys"
    cli("keys", "generate-hmac", "--out", str(out)).check(EXIT_OK)
    assert out.stat().st_mode & 0o777 == 0o600
    cli("scrub", "--keys", str(out), stdin=EVENT).check(EXIT_OK)
    cli("keys", "generate-hmac", "--out", str(out)).check(EXIT_UNUSABLE)  # never overwrites
    r = cli("keys", "generate-hmac").check(EXIT_OK)
    assert len(bytes.fromhex(r.out.strip())) == 32
