"""Configuration of the local development stack (versions, ports, directories).

The model lives in :mod:`pipeline.settings`: the stack's addresses and credentials are the
local profile's defaults, and settings must not import this package.
"""

from __future__ import annotations

from pipeline.settings import S3RegionConfig, StackConfig

__all__ = ["S3RegionConfig", "StackConfig"]
