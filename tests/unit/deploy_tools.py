"""The deployment checkers deploy/build-tools.sh builds into .stack/bin/ (compose, helm).

Missing tools skip their tests on a developer's machine; CI (``.ci/run``) builds them and sets
``AUDITPIPE_REQUIRE_DEPLOY_TOOLS=1``, so there a missing tool fails instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tool(name: str) -> Path:
    """``.stack/bin/NAME-VERSION`` of the version deploy/build-tools.sh pins."""
    script = (ROOT / "deploy" / "build-tools.sh").read_text()
    var = {"docker-compose": "COMPOSE_VERSION", "helm": "HELM_VERSION"}[name]
    m = re.search(rf"^{var}=(\S+)$", script, re.MULTILINE)
    assert m, f"{var} not set in deploy/build-tools.sh"
    path = ROOT / ".stack" / "bin" / f"{name}-{m.group(1)}"
    if not path.is_file():
        if os.environ.get("AUDITPIPE_REQUIRE_DEPLOY_TOOLS") == "1":
            pytest.fail(f"{path} missing: run deploy/build-tools.sh")
        pytest.skip(f"{path.name} not built (deploy/build-tools.sh)")
    return path
