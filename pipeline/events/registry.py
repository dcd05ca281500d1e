"""`auditpipe schemas register|check`: keep the registry in step with ``schemas/``.

Each ``.avsc`` is registered under its record's full name (RecordNameStrategy, the subject the
serializers use), with the subject's compatibility set to BACKWARD_TRANSITIVE: a new version
must read data written with every registered version. ``check`` tests a change against every
registered version without registering it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from pipeline.errors import ConfigError

COMPATIBILITY = "BACKWARD_TRANSITIVE"


@dataclass(frozen=True)
class SchemaResult:
    file: Path
    subject: str
    ok: bool
    detail: str
    schema_id: int | None = None


def subject_of(path: Path) -> str:
    doc = orjson.loads(path.read_bytes())
    if not isinstance(doc, dict) or doc.get("type") != "record" or "name" not in doc:
        raise ConfigError(f"{path}: top level must be a named record schema")
    name = str(doc["name"])
    namespace = doc.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _not_found(exc: SchemaRegistryError) -> bool:
    return exc.http_status_code == 404


def check(client: SchemaRegistryClient, path: Path) -> SchemaResult:
    """Is ``path`` compatible with every registered version of its subject?"""
    subject = subject_of(path)
    schema = Schema(path.read_text(), "AVRO")
    try:
        versions = client.get_versions(subject)
    except SchemaRegistryError as exc:
        if _not_found(exc):
            return SchemaResult(path, subject, True, "new subject (nothing registered yet)")
        raise
    try:
        registered = client.lookup_schema(subject, schema)
        return SchemaResult(
            path, subject, True, f"unchanged (version {registered.version})", registered.schema_id
        )
    except SchemaRegistryError as exc:
        if not _not_found(exc):
            raise
    incompatible = [v for v in versions if not client.test_compatibility(subject, schema, v)]
    if incompatible:
        listed = ", ".join(str(v) for v in incompatible)
        return SchemaResult(
            path, subject, False, f"not BACKWARD compatible with registered version(s) {listed}"
        )
    return SchemaResult(path, subject, True, f"compatible with versions {versions}")


def register(client: SchemaRegistryClient, path: Path) -> SchemaResult:
    """Check, then register ``path`` (idempotent: an unchanged schema keeps its id)."""
    result = check(client, path)
    if not result.ok:
        return result
    subject = result.subject
    schema_id = client.register_schema(subject, Schema(path.read_text(), "AVRO"))
    client.set_compatibility(subject, COMPATIBILITY)
    return SchemaResult(path, subject, True, f"registered ({result.detail})", schema_id)
