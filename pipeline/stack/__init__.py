"""The local development stack: real Kafka, schema registry and two S3 Object-Lock regions."""
