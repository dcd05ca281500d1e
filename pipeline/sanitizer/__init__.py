"""The sanitizer stage: decode and validate raw events, enrich, scrub, and dead-letter bad input."""
