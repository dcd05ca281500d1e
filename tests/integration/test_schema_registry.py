"""The real schema registry (Confluent API): register, fetch, and refuse an incompatible change."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from pipeline.settings import Settings

pytestmark = pytest.mark.integration

V1 = {
    "type": "record",
    "name": "Probe",
    "namespace": "dev.auditpipe.test",
    "fields": [{"name": "id", "type": "string"}],
}


def test_register_and_fetch(stack: Settings) -> None:
    client = SchemaRegistryClient({"url": stack.registry_url})
    subject = f"test-{uuid.uuid4().hex}-value"
    schema_id = client.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    assert schema_id > 0
    fetched = client.get_schema(schema_id)
    assert json.loads(fetched.schema_str or "")["name"] == "Probe"
    latest = client.get_latest_version(subject)
    assert latest.schema_id == schema_id
    assert subject in client.get_subjects()


def test_backward_incompatible_change_is_refused(stack: Settings) -> None:
    client = SchemaRegistryClient({"url": stack.registry_url})
    subject = f"test-{uuid.uuid4().hex}-value"
    client.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    client.set_compatibility(subject, "BACKWARD")
    # a new required field without a default cannot read old data: not BACKWARD compatible
    v2_bad = {**V1, "fields": [*V1["fields"], {"name": "n", "type": "int"}]}
    v2_good = {**V1, "fields": [*V1["fields"], {"name": "n", "type": "int", "default": 0}]}
    assert client.test_compatibility(subject, Schema(json.dumps(v2_good), "AVRO")) is True
    assert client.test_compatibility(subject, Schema(json.dumps(v2_bad), "AVRO")) is False
    with pytest.raises(SchemaRegistryError):
        client.register_schema(subject, Schema(json.dumps(v2_bad), "AVRO"))
