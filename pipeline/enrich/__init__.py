"""Enrichment: service catalog and geo country, added to ``pipeline.enrichment``."""
