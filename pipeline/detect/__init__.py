"""Detection: Sigma rules (parsed by pySigma) evaluated over JSON-form events, with windows in
event time, correlations, the spike and new-value extensions, and grouped alerts."""

from pipeline.detect.config import EngineConfig
from pipeline.detect.engine import Engine
from pipeline.detect.loader import lint, load_rules

__all__ = ["Engine", "EngineConfig", "lint", "load_rules"]
