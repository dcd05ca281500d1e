from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

GOLDEN: dict[str, Any] = orjson.loads(
    (Path(__file__).resolve().parents[2] / "golden" / "audit_event.json").read_bytes()
)
