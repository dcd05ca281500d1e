"""The archive's format: object layout, manifests and checkpoints, Avro containers, Merkle
trees, signing keys, the hash chains' heads, purge records, event-body readers and the stores.

Everything that writes, verifies or manages the archive reads it through this package, and it
imports none of the other archive packages (``docs/architecture.md``).
"""
