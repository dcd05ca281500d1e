"""Every detector is linear on adversarial input (issue 16): for each family of hostile strings
its trigger fires on (benchmarks/adversarial.py), the time of ``Detector.find`` on 8 times the
input stays under 32 times the time on the input (linear: 8; quadratic: 64; the room is for
the caches, which a string of a few hundred KB leaves, and a shared machine), measured in the
process's CPU time (the best of three runs, and a second try). A complexity check, not a
timed performance assertion."""

from __future__ import annotations

import pytest

from benchmarks.adversarial import firing, scaling
from pipeline.scrub.detectors import DETECTORS

SLACK = 32.0  # 8x the input; 4x room for the caches and the clock


@pytest.mark.parametrize("name", list(DETECTORS))
def test_detector_is_linear_on_adversarial_input(name: str) -> None:
    detector = DETECTORS[name]
    families = firing(detector)
    assert families, f"no adversarial family fires the {name} trigger"
    for family in families:
        for floor_s in (0.02, 0.1):  # the second try on longer input, past the cache sizes
            n, t1, t8 = scaling(detector, family, floor_s)
            if t8 <= SLACK * t1:
                break
        else:
            pytest.fail(f"{name} on {family}: {t1 * 1e3:.1f} ms at {n} B, {t8 * 1e3:.1f} ms at 8x")
