"""Harnesses the integration tests and the benchmarks share (not shipped in the runtime package)."""
