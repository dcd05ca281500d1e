from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from pipeline.errors import ConfigError
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
        Settings(stack={"kafka_prot": 1})
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


# --- profiles ---------------------------------------------------------------------------------


def _production(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var in [v for v in os.environ if v.startswith("AUDITPIPE_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AUDITPIPE_PROFILE", "production")
    return Settings()


def test_production_has_no_defaults_for_endpoints_or_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = _production(monkeypatch)
    for prop, var in [
        ("kafka_bootstrap", "AUDITPIPE_BOOTSTRAP_SERVERS"),
        ("registry_url", "AUDITPIPE_SCHEMA_REGISTRY_URL"),
        ("s3_regions", "AUDITPIPE_S3_ENDPOINTS"),
        ("s3_credentials", "AUDITPIPE_S3_ACCESS_KEY_ID"),
    ]:
        with pytest.raises(ConfigError, match=var):
            getattr(s, prop)
    with pytest.raises(ConfigError) as err:
        s.require("kafka", "registry", "s3_endpoints", "s3_credentials", what="the test")
    for var in (
        "AUDITPIPE_BOOTSTRAP_SERVERS",
        "AUDITPIPE_KAFKA__SECURITY_PROTOCOL",
        "AUDITPIPE_SCHEMA_REGISTRY_URL",
        "AUDITPIPE_S3_ENDPOINTS",
        "AUDITPIPE_S3_ACCESS_KEY_ID",
        "AUDITPIPE_S3_SECRET_ACCESS_KEY",
    ):
        assert var in str(err.value)


def test_production_sasl_needs_mechanism_user_and_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("AUDITPIPE_BOOTSTRAP_SERVERS", "kafka-0:9093")
    monkeypatch.setenv("AUDITPIPE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    assert Settings().missing(["kafka"]) == [
        "AUDITPIPE_KAFKA__SASL_MECHANISM",
        "AUDITPIPE_KAFKA__SASL_USERNAME",
        "AUDITPIPE_KAFKA__SASL_PASSWORD or AUDITPIPE_KAFKA__SASL_PASSWORD_FILE",
    ]
    monkeypatch.setenv("AUDITPIPE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("AUDITPIPE_KAFKA__SASL_USERNAME", "svc")
    monkeypatch.setenv("AUDITPIPE_KAFKA__SASL_PASSWORD_FILE", "/run/secrets/kafka")
    s = Settings()
    assert s.missing(["kafka"]) == []
    assert s.kafka_bootstrap == "kafka-0:9093"


def test_keys_are_required_in_both_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AUDITPIPE_HMAC_KEY", "AUDITPIPE_HMAC_KEY_FILE", "AUDITPIPE_DLQ_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("AUDITPIPE_ARCHIVE__SIGNING_KEY", raising=False)
    assert Settings().missing(["hmac_key", "dlq_key", "signing_key"]) == [
        "AUDITPIPE_HMAC_KEY or AUDITPIPE_HMAC_KEY_FILE",
        "AUDITPIPE_DLQ_KEY",
        "AUDITPIPE_ARCHIVE__SIGNING_KEY",
    ]


def test_local_profile_needs_nothing_for_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("AUDITPIPE_")]:
        monkeypatch.delenv(var)
    s = Settings()
    assert s.profile == "local"
    assert s.missing(["kafka", "registry", "s3_endpoints", "s3_credentials"]) == []
    assert s.s3_credentials[0] == "auditpipe"


def test_settings_do_not_import_the_stack_package() -> None:
    code = (
        "import sys, pipeline.settings; "
        "bad = sorted(m for m in sys.modules if m.startswith('pipeline.stack')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_sasl_protocol_needs_its_values_in_the_local_profile_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in [v for v in os.environ if v.startswith("AUDITPIPE_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AUDITPIPE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("AUDITPIPE_KAFKA__SASL_MECHANISM", "PLAIN")
    assert Settings().missing(["kafka"]) == [
        "AUDITPIPE_KAFKA__SASL_USERNAME",
        "AUDITPIPE_KAFKA__SASL_PASSWORD or AUDITPIPE_KAFKA__SASL_PASSWORD_FILE",
    ]
