"""Option (a) of #17, for ``make bench`` only: the detection engine in a faust-streaming agent
tuned as far as its public API goes: batches via ``stream.take_events``, each event decoded once
(the Avro datum goes to the engine, no JSON round trip), the engines' state kept as objects and
written to the table once per changed key per batch. Only the ``audit.events`` lane (the
shipped rules need no other). Run as ``python -m benchmarks.detect_faust APP_ID``; the topics
come from the settings (``AUDITPIPE_TOPICS__*``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import faust
from faust.worker import Worker

from pipeline.detect.changelog import SlotStore
from pipeline.detect.engine import Engine
from pipeline.detect.loader import load_rules
from pipeline.detect.loop import event_time
from pipeline.events import jsonform
from pipeline.events.schemas import ALERT, AUDIT_EVENT, parsed_schema
from pipeline.events.serde import AvroSerde, registry_client
from pipeline.kafka import clients
from pipeline.settings import Settings, load_settings

RULES = Path(__file__).resolve().parents[1] / "rules" / "detection"


def build(settings: Settings, app_id: str) -> faust.App:
    t = settings.topics
    conn = clients.connection(settings, app_id)
    app = faust.App(
        app_id,
        **clients.faust_settings(conn),
        store="memory://",
        datadir=Path(tempfile.gettempdir()) / f"auditpipe-faust-{app_id}",
        topic_partitions=t.partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        producer_acks=-1,
        producer_linger=0.005,
    )
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    events = app.topic(t.events, **raw)
    alerts_topic = app.topic(t.alerts, **raw)
    table = app.Table(
        "detect-state", default=None, partitions=t.partitions, key_type=str, value_type=str
    )
    rules = load_rules(RULES)
    client = registry_client(settings.registry_url)
    serde, alerts_serde = AvroSerde(client, AUDIT_EVENT), AvroSerde(client, ALERT)
    alert_schema = parsed_schema(ALERT)
    engines: dict[int, Engine] = {}
    stores: dict[int, SlotStore] = {}

    @app.agent(events)
    async def detect(stream: faust.StreamT[Any]) -> None:
        assert isinstance(stream, faust.Stream)  # take_events is the concrete stream's
        async for batch in stream.take_events(1000, within=0.05):
            for event in batch:
                msg = event.message
                engine = engines.get(msg.partition)
                if engine is None:
                    store = stores[msg.partition] = SlotStore()
                    engine = engines[msg.partition] = Engine(rules, store=store)
                datum = serde.deserialize(msg.value or b"", msg.topic)
                for alert in engine.process(datum, event_time(datum)):
                    value = alerts_serde.serialize(jsonform.from_json(alert_schema, alert), "a")
                    await alerts_topic.send(key=alert["dedup_key"].encode(), value=value)
            for partition, store in stores.items():  # coalesced: one write per changed key
                for key, record in store.changes():
                    if record is None:
                        table.pop(f"p{partition}|{key}", None)
                    else:  # faust's table codecs take text (JSON), not raw bytes
                        table[f"p{partition}|{key}"] = record.decode()

    return app


if __name__ == "__main__":
    faust_app = build(load_settings(), sys.argv[1])
    sys.argv[1:] = ["worker", "--loglevel", "warn"]
    Worker(faust_app, loglevel="warn", quiet=True).execute_from_commandline()
