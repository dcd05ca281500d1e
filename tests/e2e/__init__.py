"""End-to-end accounting under faults (issue 18): a private stack, every stage as a worker
process, faults at seeded random moments, and the books checked afterwards."""
