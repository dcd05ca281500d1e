"""Bounded cost of one event (issue 16): the inputs that stalled the scrubber (a 300 KB field
of JWT-like fragments took 24 s, 1 MB took minutes; 1 MB of card-, phone- or IBAN-like digit
runs took 5-29 s) go through both offline commands within a bound, measured by the test's own
clock. Linearity of every detector is proven in tests/unit/scrub/test_detector_cost.py; the
size limits per field and per event belong to the sanitizer."""

from __future__ import annotations

import pytest

from pipeline.cli.safe import EXIT_OK
from tests.hostile.conftest import Cli
from tests.hostile.scrub_cases import COMMANDS, event, run


def _cycle(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


CASES = {
    "jwt-fragments-300k": (_cycle("eyJ", 300_000), 10.0),
    "jwt-parts-1m": (_cycle("eyJhbGciOi.eyJzdWIi.", 1_000_000), 15.0),
    "card-runs-1m": (_cycle("4111 ", 1_000_000), 20.0),
    "iban-runs-1m": (_cycle("DE89 3704 ", 1_000_000), 20.0),
    "digits-1m": ("4" * 1_000_000, 20.0),
    "phone-runs-1m": (_cycle("+49 30 1234567 x ", 1_000_000), 20.0),
    "secret-keys-1m": (_cycle("password=", 1_000_000), 20.0),
    "zero-width-1m": (_cycle("4\u200b", 1_000_000), 20.0),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_field_is_scrubbed_within_a_bound(cli: Cli, command: str, case: str) -> None:
    text, bound_s = CASES[case]
    r = run(cli, command, event(details={"note": text}))
    r.check(EXIT_OK, bound_s=bound_s)
    assert len(r.out.splitlines()) == 1
