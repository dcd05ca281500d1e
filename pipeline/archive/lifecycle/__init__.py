"""The archive's lifecycle: regions, retention classes, legal holds, Object Lock versions, the
retention policy log, purges and the LIFECYCLE audit events of these actions. Imports ``format``.
"""
