"""Load the Avro schemas in ``schemas/`` (parsed once per call site; no module state)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, cast

import fastavro
import orjson

from pipeline.errors import ConfigError

AUDIT_EVENT = "audit_event"
ALERT = "alert"
DLQ_ENVELOPE = "dlq_envelope"


def schemas_dir() -> Path:
    """``schemas/`` of the source checkout."""
    return Path(__file__).resolve().parents[2] / "schemas"


def schema_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or schemas_dir()).glob("*.avsc"))


@functools.cache
def _load(path: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    try:
        text = path.read_text()
        raw = orjson.loads(text)
        parsed = fastavro.parse_schema(raw, expand=True, _write_hint=False)
    except FileNotFoundError as exc:
        raise ConfigError(f"schema file {path} not found") from exc
    except (orjson.JSONDecodeError, fastavro.schema.SchemaParseException, KeyError) as exc:
        raise ConfigError(f"{path}: invalid Avro schema: {exc}") from exc
    return text, cast(dict[str, Any], raw), cast(dict[str, Any], parsed)


def schema_text(name: str, directory: Path | None = None) -> str:
    """The schema's JSON text as written in the file (what is registered)."""
    return _load((directory or schemas_dir()) / f"{name}.avsc")[0]


def parsed_schema(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The fully expanded schema (named types inlined), for fastavro and the JSON form."""
    return _load((directory or schemas_dir()) / f"{name}.avsc")[2]


def raw_schema(name: str, directory: Path | None = None) -> dict[str, Any]:
    return _load((directory or schemas_dir()) / f"{name}.avsc")[1]
