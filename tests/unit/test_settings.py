from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.settings import Settings
from pipeline.stack.config import S3RegionConfig, StackConfig


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "AUDITPIPE_BOOTSTRAP_SERVERS",
        "AUDITPIPE_SCHEMA_REGISTRY_URL",
        "AUDITPIPE_S3_ENDPOINTS",
    ):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert s.s3_regions == {
        "us-east-1": "http://127.0.0.1:7070",
        "eu-central-1": "http://127.0.0.1:7071",
    }
    assert not s.uses_external_services


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITPIPE_BOOTSTRAP_SERVERS", "broker:29092")
    monkeypatch.setenv("AUDITPIPE_S3_ENDPOINTS", '{"eu-west-1": "http://s3:9000"}')
    monkeypatch.setenv("AUDITPIPE_STACK__KAFKA_PORT", "19092")
    s = Settings()
    assert s.kafka_bootstrap == "broker:29092"
    assert s.s3_regions == {"eu-west-1": "http://s3:9000"}
    assert s.stack.kafka_port == 19092
    assert s.uses_external_services


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ValidationError):
        Settings(stack={"kafka_prot": 1})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        StackConfig(bogus=1)  # type: ignore[call-arg]


def test_regions_must_be_distinct() -> None:
    with pytest.raises(ValidationError):
        StackConfig(
            s3_regions=(
                S3RegionConfig(name="us-east-1", port=7070),
                S3RegionConfig(name="eu-central-1", port=7070),
            )
        )


def test_secret_is_not_in_repr() -> None:
    s = Settings()
    assert "auditpipe-local-secret" not in repr(s)
    assert "auditpipe-local-secret" not in str(s.model_dump())
