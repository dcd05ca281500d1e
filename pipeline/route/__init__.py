"""The alert router: routing tree, grouping, silences, inhibition, payloads, delivery.

Pure logic with time passed in (``engine.Router``, ``tree``, ``grouping``, ``inhibit``,
``silences``; ``simulate`` drives it in simulated time for ``auditpipe route --dry-run``) and
the streaming stage around it (``stage``: the project's own commit-after-ack loop over
confluent-kafka, not faust): each turn writes the changed state records to the compacted
``audit.router.state`` topic and awaits the acknowledgement before committing input offsets, then
hands the outbox to the per-receiver workers (``dispatch``, ``sender``), whose every attempt is
itself audited. ``forward`` re-keys alerts by ``rule_id`` in front of it.
"""
