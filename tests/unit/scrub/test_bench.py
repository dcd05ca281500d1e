"""The scrub benchmark runs and reports plausible numbers (a smoke test, not a measurement)."""

from __future__ import annotations

from benchmarks.scrub import bench_scrub


def test_bench_scrub_smoke() -> None:
    result = bench_scrub(200)
    for key in ("ceiling_per_s", "offline_per_s", "baseline_decode_hmac_encode_per_s"):
        assert result[key] > 0
    assert result["events"] == 200
    assert 500 < result["event_bytes_avg"] < 2500  # about 1 KB events
