"""Readers of the logs: replay a window from Kafka or from the verified archive (``archive``
batches are verified before anything of them is emitted), filters, and the audit event every
read emits (``audit.audit_read``). Reads the archive through ``archive.format`` and
``archive.verify`` only."""
