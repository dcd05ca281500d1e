"""Confluent wire-format (magic byte, schema id, Avro body) serialization via the registry.

Serializing uses confluent-kafka's ``AvroSerializer`` (fastavro underneath), which registers or
looks up the schema once and caches its id. Deserializing is ours: confluent-kafka 2.x's
``AvroDeserializer`` costs ~140 µs per event (it re-resolves rules and schemas per call), ten
times the decode itself; we cache each writer schema by id and call fastavro's
``schemaless_reader`` with our current schema as the reader schema, so older events read under
the newer schema.
"""

from __future__ import annotations

import io
import struct
import time
from typing import Any

import fastavro
import orjson
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro.read import SchemaResolutionError

from pipeline.errors import DeserializationError, RegistryUnavailableError
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema, schema_text
from pipeline.events.writers import parse_writer

MAGIC_BYTE = 0
MAX_CACHED = 1024  # schema ids per serde (verdicts and unknown ids each)
UNKNOWN_TTL_S = 60.0


def registry_client(url: str) -> SchemaRegistryClient:
    """A registry client; a `mock://` URL gives confluent-kafka's in-memory mock (offline tools)."""
    return SchemaRegistryClient.new_client({"url": url})


def _answered(exc: Exception) -> bool:
    """Whether the registry answered (a 4xx about the request: the data's fault) rather than
    failed to (connection refused, timeout, 5xx: its own)."""
    if isinstance(exc, SchemaRegistryError):
        code = exc.http_status_code
        return 400 <= code < 500 and code not in (408, 429)
    return False


def registry_reachable(client: SchemaRegistryClient) -> bool:
    """Whether the registry answers a cheap request (the subjects list)."""
    try:
        client.get_subjects()
    except Exception:
        return False
    return True


def schema_id_of(data: bytes) -> int:
    """The registry schema id of a Confluent wire-format message."""
    if len(data) < 5 or data[0] != MAGIC_BYTE:
        raise DeserializationError(
            "no_schema_id: not Confluent wire format (bad magic byte or too short)"
        )
    return int(struct.unpack(">I", data[1:5])[0])


class AvroSerde:
    """Serialize and deserialize one record schema of ``schemas/`` for a topic's values."""

    def __init__(
        self,
        client: SchemaRegistryClient,
        schema_name: str = AUDIT_EVENT,
        *,
        auto_register: bool = True,
    ) -> None:
        text = schema_text(schema_name)
        self.schema_name = schema_name
        self._ser = AvroSerializer(
            client,
            text,
            conf={
                "auto.register.schemas": auto_register,
                "normalize.schemas": False,
                # one subject per record type (dev.auditpipe.v1.AuditEvent), not per topic:
                # there are many raw topics and they all carry the same event schema
                "subject.name.strategy": record_subject_name_strategy,
            },
        )
        self._client = client
        self._reader = parsed_schema(schema_name)
        self._reader_doc = raw_schema(schema_name)
        self._text = text
        self._writers: dict[int, tuple[Any, Any] | str] = {}  # pair, or why refused
        self._unknown: dict[int, float] = {}  # schema id -> monotonic time to ask again

    def serialize(self, datum: dict[str, Any], topic: str) -> bytes:
        """The wire-format value; ``RegistryUnavailableError`` when the registry was needed (the
        first call registers or looks up the schema) and did not answer: the datum is not at
        fault. A 4xx answer about the request (e.g. an incompatible schema) is raised as is."""
        try:
            out = self._ser(datum, SerializationContext(topic, MessageField.VALUE))
        except Exception as exc:
            if _answered(exc):
                raise
            # the serializer raises one way for a bad datum and for a registry that is down:
            # a 5xx, a transport error, or (otherwise) a registry that does not answer a cheap
            # request tells them apart (only on this error path)
            if (
                isinstance(exc, SchemaRegistryError)
                or _transport(exc)
                or not registry_reachable(self._client)
            ):
                raise RegistryUnavailableError(
                    f"schema registry unreachable ({type(exc).__name__})"
                ) from None
            raise
        assert out is not None
        return bytes(out)

    def deserialize(
        self,
        data: bytes,
        topic: str,
        *,
        partition: int | None = None,
        offset: int | None = None,
    ) -> dict[str, Any]:
        """The datum of a Confluent wire-format value. A bad value raises
        ``DeserializationError`` whose reason starts with its code (``pipeline.events.dlq``:
        no_schema_id, unknown_schema_id, wrong_subject, too_deep, missing_field, wrong_type,
        invalid_utf8, undecodable); a registry that does not answer raises
        ``RegistryUnavailableError`` (retryable: the record is fine, the registry is not)."""

        def bad(reason: str) -> DeserializationError:
            return DeserializationError(
                reason, topic=topic, partition=partition, offset=offset, raw=data
            )

        try:
            writer, reader = self._schemas_for(schema_id_of(data))
            buf = io.BytesIO(data)
            buf.seek(5)
            datum = fastavro.schemaless_reader(buf, writer, reader)
            if buf.tell() != len(data):
                raise DeserializationError("undecodable: bytes left after the event")
        except DeserializationError as exc:
            raise bad(exc.reason) from None
        except RegistryUnavailableError:
            raise
        except Exception as exc:  # the registry client and fastavro raise many types
            # the type only: the text of a decoding error may quote the producer's data or
            # its writer schema (an enum symbol, a field name), and reasons reach the logs
            raise bad(_decode_reason(exc)) from exc
        if not isinstance(datum, dict):
            raise bad("wrong_subject: decoded value is not a record")
        return datum

    def _schemas_for(self, schema_id: int) -> tuple[Any, Any]:
        """(writer, reader) for a schema id; reader is None when it is our own schema, which
        spares fastavro a schema resolution per record (5x faster). Verdicts are cached per
        id, a refused writer schema too, so a stream of bad records costs one registry call;
        an unknown id is asked again after ``UNKNOWN_TTL_S`` (it may be registered since)."""
        pair = self._writers.get(schema_id)
        if isinstance(pair, str):
            raise DeserializationError(pair)
        if pair is not None:
            return pair
        now = time.monotonic()
        if self._unknown.get(schema_id, 0.0) > now:
            raise DeserializationError(f"unknown_schema_id: no schema with id {schema_id}")
        registered = fetch_schema(self._client, schema_id)
        if registered is None:
            _remember(self._unknown, schema_id, now + UNKNOWN_TTL_S)
            raise DeserializationError(f"unknown_schema_id: no schema with id {schema_id}")
        text = registered.schema_str or "null"
        try:
            writer = parse_writer(text, self._reader)
        except DeserializationError as exc:
            _remember(self._writers, schema_id, exc.reason)
            raise
        same = text == self._text or orjson.loads(text) == self._reader_doc
        pair = (writer, None) if same else (writer, self._reader)
        _remember(self._writers, schema_id, pair)
        return pair


def fetch_schema(client: SchemaRegistryClient, schema_id: int) -> Schema | None:
    """The registered schema of ``schema_id``; None when the registry has none with that id;
    ``RegistryUnavailableError`` when it did not answer (or answered 5xx)."""
    try:
        return client.get_schema(schema_id)
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            return None
        raise RegistryUnavailableError(
            f"schema registry answered HTTP {exc.http_status_code} for schema {schema_id}"
        ) from None
    except Exception as exc:
        raise RegistryUnavailableError(
            f"schema registry unreachable ({type(exc).__name__})"
        ) from None


def _transport(exc: Exception) -> bool:
    """A connection failure of the registry client (its HTTP library's transport errors)."""
    return type(exc).__module__.split(".", 1)[0].startswith("httpx") or isinstance(exc, OSError)


def _remember(cache: dict[int, Any], key: int, value: Any) -> None:
    """Insert into a cache bounded to ``MAX_CACHED`` entries (the oldest goes first): a hostile
    producer registering schema after schema cannot grow a worker's memory."""
    cache[key] = value
    while len(cache) > MAX_CACHED:
        del cache[next(iter(cache))]


def _decode_reason(exc: Exception) -> str:
    name = type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid_utf8: cannot decode Avro value: a string is not UTF-8 ({name})"
    if isinstance(exc, SchemaResolutionError):
        return f"wrong_type: cannot decode Avro value: a value does not fit the schema ({name})"
    return f"undecodable: cannot decode Avro value: {name}"


class GenericAvroDecoder:
    """Decode any Confluent wire-format Avro value with its writer schema (for `consume`)."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self._client = client
        self._schemas: dict[int, tuple[Any, Any]] = {}

    def decode(self, data: bytes) -> tuple[Any, Any]:
        """(expanded writer schema, datum)."""
        schema_id = schema_id_of(data)
        entry = self._schemas.get(schema_id)
        if entry is None:
            registered = fetch_schema(self._client, schema_id)
            if registered is None:  # a record to report, not a failed command
                raise DeserializationError(
                    f"unknown_schema_id: no schema with id {schema_id}", raw=data
                )
            doc = orjson.loads(registered.schema_str or "null")
            entry = (
                fastavro.parse_schema(doc),
                fastavro.parse_schema(doc, expand=True, _write_hint=False),
            )
            self._schemas[schema_id] = entry
        writer, expanded = entry
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(data[5:]), writer, None)
        except Exception as exc:
            raise DeserializationError(
                f"cannot decode Avro value: {type(exc).__name__}", raw=data
            ) from exc
        return expanded, datum
