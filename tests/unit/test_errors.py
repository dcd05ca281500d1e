from __future__ import annotations

from pipeline.errors import (
    BackpressureError,
    ConfigError,
    DeserializationError,
    PipelineError,
    RetryableError,
    RuleError,
    StackError,
    StartupError,
)


def test_rule_error_names_file_and_line() -> None:
    err = RuleError("unknown modifier 'containz'", file="rules/detection/x.yml", line=12)
    assert str(err) == "rules/detection/x.yml:12: unknown modifier 'containz'"
    assert isinstance(err, StartupError)


def test_message_error_carries_coordinates_and_bytes() -> None:
    err = DeserializationError("bad magic byte", topic="t", partition=2, offset=41, raw=b"\x01")
    assert (err.topic, err.partition, err.offset, err.raw) == ("t", 2, 41, b"\x01")
    assert err.reason == "bad magic byte"
    assert isinstance(err, PipelineError)
    assert not isinstance(err, StartupError)


def test_tree() -> None:
    assert issubclass(ConfigError, StartupError)
    assert issubclass(BackpressureError, RetryableError)
    err = StackError("exited", service="kafka")
    assert str(err) == "kafka: exited"
