"""The alert router: routing tree, grouping, silences, inhibition, payloads, delivery policy.

Pure logic with time passed in: the streaming stage drives :class:`engine.Router` and persists
its JSON state; delivery (Kafka, HTTP) is done by the caller.
"""
