"""Labelled corpora for the privacy measurement, scored from the spans a tool redacts
(``score.py``) so that our scrubber and Presidio are measured the same way."""
