"""`auditpipe config show`: every setting with its value (secrets masked) and its source."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.cli.config import rows
from pipeline.settings import Settings


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("AUDITPIPE_")]:
        monkeypatch.delenv(var)


def _table(settings: Settings) -> dict[str, tuple[str, str]]:
    return {name: (value, source) for name, value, source in rows(settings)}


def test_local_profile_shows_stack_defaults_env_values_and_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUDITPIPE_SCHEMA_REGISTRY_URL", "http://reg-user:reg-pass@reg:8081")
    monkeypatch.setenv("AUDITPIPE_KAFKA__SASL_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("AUDITPIPE_DLQ_KEY", "ab" * 32)
    t = _table(Settings())
    assert t["profile"] == ("local", "default")
    assert t["bootstrap_servers"] == ("127.0.0.1:9092", "profile default (local stack)")
    assert t["schema_registry_url"] == ("http://****@reg:8081", "env")
    assert t["s3_secret_access_key"] == ("****", "profile default (local stack)")
    assert t["kafka.sasl_password"] == ("****", "file (kafka.sasl_password_file)")
    assert t["dlq_key"] == ("****", "env")
    assert t["topics.events"] == ("audit.events", "default")
    shown = repr(rows(Settings()))
    for secret in ("reg-pass", "ab" * 32, "auditpipe-local-secret"):
        assert secret not in shown


def test_production_profile_shows_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITPIPE_PROFILE", "production")
    monkeypatch.setenv("AUDITPIPE_S3_SECRET_ACCESS_KEY", "very-secret")
    t = _table(Settings())
    assert t["profile"] == ("production", "env")
    assert t["bootstrap_servers"] == ("MISSING", "no default in production")
    assert t["kafka.security_protocol"] == ("MISSING", "no default in production")
    assert t["s3_secret_access_key"] == ("****", "env")
    assert not any(name.startswith("stack.") for name in t)
