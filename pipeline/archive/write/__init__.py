"""Writing the archive: the batcher, the writer, flushes, the streaming archiver and its runner,
cross-region witnessing and the offline importer. Imports ``format`` and ``lifecycle.retention``.
"""
