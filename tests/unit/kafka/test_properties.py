from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.kafka import clients
from pipeline.kafka.properties import connection_from_properties, read_properties
from pipeline.settings import Settings

PROPS = """\
# principal analyst
bootstrap.servers=127.0.0.1:9094
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.username=analyst
sasl.password=s3cret=with=equals
ssl.ca.location=/ca.pem
"""


def _file(tmp_path: Path, text: str = PROPS) -> Path:
    path = tmp_path / "analyst.properties"
    path.write_text(text)
    return path


def test_properties_file_is_a_connection(tmp_path: Path) -> None:
    assert read_properties(_file(tmp_path))["sasl.password"] == "s3cret=with=equals"
    conn = connection_from_properties(_file(tmp_path), "cli")
    assert conn.to_librdkafka() == {
        "bootstrap.servers": "127.0.0.1:9094",
        "client.id": "cli",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "analyst",
        "sasl.password": "s3cret=with=equals",
        "ssl.ca.location": "/ca.pem",
    }


@pytest.mark.parametrize("text", ["bootstrap.servers\n", "security.protocol=SASL_SSL\n"])
def test_bad_properties_files_are_config_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        connection_from_properties(_file(tmp_path, text), "cli")
    with pytest.raises(ConfigError):
        connection_from_properties(tmp_path / "missing.properties", "cli")


def test_the_setting_gives_every_client_the_files_principal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITPIPE_PROFILE", "production")
    monkeypatch.setenv("AUDITPIPE_KAFKA__CLIENT_CONFIG", str(_file(tmp_path)))
    monkeypatch.setenv("AUDITPIPE_KAFKA__SESSION_TIMEOUT_MS", "12000")
    settings = Settings()
    # production needs no other Kafka variable: the file names servers and credentials
    assert settings.missing(["kafka"]) == []
    conn = clients.connection(settings, "auditpipe-sanitizer")
    assert conn.bootstrap_servers == "127.0.0.1:9094"
    assert conn.sasl_username == "analyst"
    assert conn.client_id == "auditpipe-sanitizer"
    assert conn.session_timeout_ms == 12000
