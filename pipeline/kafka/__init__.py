"""Kafka: connection config (``config``), the client layer that builds every consumer,
producer, admin client and faust's broker settings and commits offsets (``clients``), topic
admin (``admin``, ``topics``), compacted-topic and asyncio helpers (``topicio``), and the
commit-after-ack batch loop (``stage``)."""
