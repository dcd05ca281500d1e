"""Benchmarks run by `make bench` against the local stack; each prints rows of one table."""
