"""Kafka connection config, producer/consumer factories and admin helpers."""
