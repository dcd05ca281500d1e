"""The scrubber: detectors, treatments, the compiled policy (``rules/scrub.yaml``), and
``Scrubber`` which applies it to one event datum. No Kafka here."""

from pipeline.scrub.config import ScrubPolicy, load_policy, parse_policy
from pipeline.scrub.keys import ScrubKeys, dev_keys, load_keys_from_file, parse_keys
from pipeline.scrub.scrubber import Scrubber

__all__ = [
    "ScrubKeys",
    "ScrubPolicy",
    "Scrubber",
    "dev_keys",
    "load_keys_from_file",
    "load_policy",
    "parse_keys",
    "parse_policy",
]
