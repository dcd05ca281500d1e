"""`auditpipe demo`: the whole pipeline on the local stack, end to end."""
