"""Verifying the archive offline from public keys alone: ``verify``, the checkpoint checks,
findings, ``--compare`` between regions and inclusion proofs. Imports only ``format``.
"""
