"""The demo's pure logic: which deliveries belong to this run, which rules still lack one;
the demo producer's pacing."""

from __future__ import annotations

import time

from pipeline.demo.flow import coverage
from pipeline.demo.producer import paced
from pipeline.runall.receiver import Delivery


def _delivery(rules: list[str], keys: list[str], *, duplicate: bool = False) -> Delivery:
    return Delivery(
        received_at="2026-12-06T00:00:00Z",
        path="/hooks/security",
        idempotency_key="k",
        notification_id="n",
        receiver="security-webhook",
        status="firing",
        rule_ids=rules,
        alert_dedup_keys=keys,
        signature_verified=True,
        duplicate=duplicate,
    )


def test_coverage_keeps_this_runs_first_arrivals() -> None:
    mine = _delivery(["auth.bruteforce_success"], ["dk1"])
    older = _delivery(["auth.mfa_disabled"], ["old"])  # an earlier run's alert
    retry = _delivery(["auth.bruteforce_success"], ["dk1"], duplicate=True)
    got, missing = coverage(
        [mine, older, retry], {"dk1", "dk2"}, {"auth.bruteforce_success", "authz.denied_spike"}
    )
    assert got == [mine]
    assert missing == {"authz.denied_spike"}


def test_coverage_of_nothing() -> None:
    assert coverage([], set(), set()) == ([], set())


def test_paced() -> None:
    start = time.monotonic()
    assert paced(0, start, 1000) == 0.0  # no rate: as fast as possible
    assert 9.0 < paced(10, start, 100) <= 10.0  # 100 events at 10/s: wait until t+10 s
    assert paced(10, start - 100, 5) == 0.0  # behind: no wait
