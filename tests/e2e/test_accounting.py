"""Issue 18: every accepted event accounted for, nothing leaked, incidents alerted and
notified, and ``verify --compare`` clean, through kill -9 of each stage, a broker restart, an
S3 region outage, a slow then failing webhook and a registry outage, on a private stack.

``AUDITPIPE_E2E_EVENTS`` sets N (default below), ``AUDITPIPE_E2E_SEED`` replays a run's fault
moments (the seed is printed), ``AUDITPIPE_E2E_RATE`` the events/s offered."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings
from tests.e2e.scenario import Run, config_from_env, verdict
from tests.e2e.stack import PrivateStack

pytestmark = pytest.mark.integration
DEFAULT_EVENTS = 50_000


def test_accounting_under_every_fault(settings: Settings, tmp_path: Path) -> None:
    why = PrivateStack.available(settings.stack)
    if why:
        pytest.skip(why)
    cfg = config_from_env(DEFAULT_EVENTS)
    print(f"e2e seed {cfg.seed} (AUDITPIPE_E2E_SEED={cfg.seed} replays it)")
    run = Run(cfg, settings.stack, tmp_path)
    try:
        result = run.execute()
    finally:
        run.close()
    print(result.report())
    assert verdict(result) == [], result.report()
