"""`auditpipe consume`: print a topic's events as JSON Lines (Avro decoded via the registry).

Every run is a read of the logs, audited before the first record is fetched
(``pipeline.replay.audit``: principal, topic, start position and limit, reason). ``--reason``
is required for raw topics and the DLQ. ``--decrypt`` (the DLQ only, needs ``AUDITPIPE_DLQ_KEY``)
prints each dead letter's original bytes in ``raw`` and ``key`` (latin-1, as the JSON form
writes bytes) instead of their ciphertext; that is DLQ decryption, audited as such.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from typing import Any

import orjson
import typer
from cryptography.exceptions import InvalidTag
from rich.console import Console
from rich.markup import escape

from pipeline.cli.safe import clean
from pipeline.errors import ConfigError, DeserializationError
from pipeline.events import jsonform
from pipeline.events.dlq import DlqKey, decrypt_raw
from pipeline.events.serde import GenericAvroDecoder, registry_client
from pipeline.kafka import clients
from pipeline.replay.audit import ReadAudit, audit_read, require_reason
from pipeline.sanitizer.runner import dlq_key
from pipeline.settings import Settings, load_settings

console = Console(stderr=True)


def consume(
    topic: str = typer.Option(..., "--topic", "-t", help="topic to read"),
    from_beginning: bool = typer.Option(True, help="start at the earliest offset"),
    max_events: int = typer.Option(
        0, "--max", "-n", min=0, help="stop after N events (0: no limit)"
    ),
    idle_timeout: float = typer.Option(
        5.0, "--idle-timeout", help="stop after this many seconds without a new event (0: never)"
    ),
    group: str | None = typer.Option(None, "--group", help="consumer group (default: a new one)"),
    with_meta: bool = typer.Option(False, "--meta", help="wrap each event with partition/offset"),
    reason: str = typer.Option(
        "", "--reason", help="why you read (audited; required for raw topics and the DLQ)"
    ),
    decrypt: bool = typer.Option(
        False, "--decrypt", help="DLQ only: print dead letters' original bytes (needs the DLQ key)"
    ),
) -> None:
    """Print events as JSON Lines, one per line, in the JSON form of their schema."""
    settings = load_settings()
    keys = _audit(settings, topic, from_beginning, max_events, group, reason, decrypt)
    conn = clients.connection(settings, "auditpipe-consume")
    decoder = GenericAvroDecoder(registry_client(settings.registry_url))
    consumer = clients.consumer(
        conn,
        group or f"auditpipe-consume-{uuid.uuid4()}",
        {
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": group is not None,
        },
    )
    consumer.subscribe([topic])
    out = sys.stdout.buffer
    n = bad = 0
    last = time.monotonic()
    try:
        while not max_events or n < max_events:
            msg = consumer.poll(0.5)
            if msg is None:
                if idle_timeout and time.monotonic() - last > idle_timeout:
                    break
                continue
            err = msg.error()
            if err is not None:
                console.print(f"[red]kafka error:[/] {escape(clean(err))}")
                continue
            last = time.monotonic()
            value = msg.value()
            if value is None:
                continue
            try:
                schema, datum = decoder.decode(value)
                doc = jsonform.to_json(schema, datum)
                if keys is not None:
                    doc.update(_opened(keys, datum))
            except (DeserializationError, InvalidTag, ConfigError) as exc:
                bad += 1
                why = exc.reason if isinstance(exc, DeserializationError) else _why(exc)
                console.print(
                    f"[red]{msg.topic()}[{msg.partition()}]@{msg.offset()}:[/] {escape(why)}",
                    highlight=False,
                )
                continue
            if with_meta:
                doc = {"partition": msg.partition(), "offset": msg.offset(), "event": doc}
            out.write(orjson.dumps(doc) + b"\n")
            n += 1
    except KeyboardInterrupt:
        pass
    finally:
        out.flush()
        consumer.close()
    console.print(f"read {n:,} events from {topic}" + (f", {bad} undecodable" if bad else ""))


def _audit(
    settings: Settings,
    topic: str,
    from_beginning: bool,
    max_events: int,
    group: str | None,
    reason: str,
    decrypt: bool,
) -> dict[str, DlqKey] | None:
    """Emit the read's audit event (after checking its options); the DLQ keys with --decrypt."""
    t = settings.topics
    if decrypt and topic != t.dlq:
        raise typer.BadParameter(f"--decrypt reads the DLQ ({t.dlq}) only", param_hint="--decrypt")
    keys = None
    if decrypt:
        reason = require_reason(reason, "DLQ decryption")
        key = dlq_key(settings)
        keys = {key.key_id: key}
    elif topic == t.dlq or re.match(t.raw_pattern, topic):
        reason = require_reason(reason, f"reading {topic}")
    start = "earliest" if from_beginning else "latest"
    limit = f", at most {max_events} events" if max_events else ""
    extra = {"group": group} if group else {}
    if decrypt:
        extra["dlq_decrypt"] = "true"
    audit_read(
        settings,
        ReadAudit(
            "consume --decrypt" if decrypt else "consume",
            topic,
            f"from the {start} offset of every partition{limit}",
            reason=reason,
            extra=extra,
        ),
    )
    return keys


def _opened(keys: dict[str, DlqKey], datum: dict[str, Any]) -> dict[str, Any]:
    """A dead letter's ``raw`` and ``key`` decrypted (latin-1 text, as the JSON form writes)."""
    out: dict[str, Any] = {"raw": decrypt_raw(keys, datum).decode("latin-1")}
    if datum.get("key") is not None:
        out["key"] = decrypt_raw(keys, {**datum, "raw": datum["key"]}).decode("latin-1")
    return out


def _why(exc: Exception) -> str:
    if isinstance(exc, InvalidTag):
        return "the dead letter does not decrypt with this key (moved or altered)"
    return str(exc)
