"""The event model: Avro schemas, the JSON form, serialization, trace/request context."""
