"""The `auditpipe` command line: one module per command."""
