"""The scrub benchmark runs and reports plausible numbers (a smoke test, not a measurement)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.scrub import bench_scrub


def test_bench_scrub_smoke() -> None:
    result = bench_scrub(200)
    for key in ("ceiling_per_s", "offline_per_s", "baseline_decode_hmac_encode_per_s"):
        assert result[key] > 0
    assert result["events"] == 200
    assert 500 < result["event_bytes_avg"] < 2500  # about 1 KB events


def test_presidio_row_is_skipped_with_the_reason_without_its_venv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import benchmarks.presidio as presidio

    monkeypatch.setattr(presidio, "VENV_PYTHON", tmp_path / "bin" / "python")
    monkeypatch.setattr(presidio, "ROOT", tmp_path)
    result = presidio.bench_presidio()
    assert result == {"skipped": "no bin/python (see benchmarks/presidio.py)"}


def test_presidio_gets_the_free_text_the_policy_scans() -> None:
    from benchmarks.presidio import _free_text

    doc = {
        "actor": {"id": "u-1", "user_agent": "curl/8"},
        "http": {"path": "/v1/x"},
        "details": {"note": "hello", "n": 3},
    }
    assert _free_text(doc) == ["hello", "curl/8", "/v1/x"]


def test_privacy_bench_reports_every_group() -> None:
    from benchmarks.privacy import bench_privacy, privacy_json, privacy_tables

    counts = bench_privacy(per_kind=5)
    assert set(counts.group.values()) == {"secret", "national_id", "context"}
    recall, precision = privacy_tables(counts)
    assert recall.row_count > 30
    assert precision.row_count > 20
    assert 0 <= privacy_json(counts)["benign_kept"] <= 1
