"""App-side scrubbing (pure logic; the broker test is tests/integration/test_sdk_scrubbing.py)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pipeline.kafka.config import KafkaConnection
from pipeline.produce.config import ProducerConfig
from pipeline.produce.scrubbing import AppScrub, build_app_scrub
from pipeline.scrub import ScrubKeys, load_policy
from pipeline.scrub.treatments import Pseudonymizer
from tests.unit.scrub.helpers import event

KEYS = ScrubKeys({"k1": b"\x05" * 32}, "k1")


def _config(**over: object) -> ProducerConfig:
    return ProducerConfig(
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:1"),
        registry_url="http://127.0.0.1:1",
        service="svc",
        **over,  # type: ignore[arg-type]
    )


def _datum() -> dict[str, object]:
    return event(
        actor={"id": "alice@example.com", "type": "user", "ip": "203.0.113.77"},
        details={"note": "card 4111 1111 1111 1111, CPF 111.444.777-35", "password": "x!"},
    )


def test_with_keys_the_sdk_applies_the_whole_policy() -> None:
    out = AppScrub(load_policy(), KEYS)(_datum())
    assert out["actor"]["id"] == Pseudonymizer(KEYS)("alice@example.com")
    assert out["actor"]["ip"] == "203.0.113.0"
    assert out["details"] == {"note": "card [card:…1111], CPF [br_cpf]", "password": "[secret]"}
    assert out["pipeline"] is None


def test_without_keys_pseudonymized_fields_are_left_to_the_sanitizer() -> None:
    out = AppScrub(load_policy(), None)(_datum())
    assert out["actor"]["id"] == "alice@example.com"
    assert out["actor"]["ip"] == "203.0.113.0"
    assert out["details"]["note"] == "card [card:…1111], CPF [br_cpf]"


def test_on_by_default_and_a_producer_can_opt_out(tmp_path: Path) -> None:
    assert build_app_scrub(_config()) is not None
    assert build_app_scrub(_config(scrub=False)) is None
    keys = tmp_path / "scrub.keys"
    keys.write_text("active = k1\nk1 = hex:" + secrets.token_hex(32) + "\n")
    keys.chmod(0o600)
    scrub = build_app_scrub(_config(scrub_keys_file=keys))
    assert scrub is not None
    assert scrub.keyed
