"""``build_scrub``: the setting deciding whether the sanitizer keeps a keyed SDK's pseudonyms."""

from __future__ import annotations

import copy

import pytest
from pydantic import SecretStr

from pipeline.sanitizer.build import build_scrub
from pipeline.settings import SanitizerConfig, Settings
from tests.unit.scrub.helpers import event

KEY = "7c1e5a9f03b2d84e6a0f1c3b5d7e9a2c4f6b8d0e1a3c5e7f9b2d4f6a8c0e2b4d"


def _stage(trust: bool) -> Settings:
    return Settings(hmac_key=SecretStr(KEY), sanitizer=SanitizerConfig(trust_pseudonyms=trust))


@pytest.mark.parametrize("trust", [False, True])
def test_a_keyed_sdk_pseudonym_is_kept_only_when_trusted(trust: bool) -> None:
    scrub = build_scrub(_stage(trust))
    once = event(actor={"id": "alice@example.com", "type": "user"})
    scrub(once)  # as the keyed SDK does: the sanitizer's own pseudonym
    pseudonym = once["actor"]["id"]
    assert pseudonym.startswith("ps:")
    assert "alice" not in pseudonym
    again = copy.deepcopy(once)
    scrub(again)
    assert (again["actor"]["id"] == pseudonym) is trust
