"""The archiver: batches to S3 Object Lock in two regions (see issue 7)."""
