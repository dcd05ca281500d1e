"""Formatting KRaft storage with the real ``kafka-storage`` tool takes any cluster id Kafka
itself could make, including one that starts with ``-`` (a CI run failed on such an id:
the tool read it as an option)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.stack import services
from pipeline.stack.config import StackConfig

pytestmark = pytest.mark.integration


def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if stack.uses_external_services:
        pytest.skip("needs the local stack's Kafka jars")
    (tmp_path / "lib").symlink_to(stack.stack.root / "lib")
    cluster_id = "-" + services.new_cluster_id()[1:]
    monkeypatch.setattr(services, "new_cluster_id", lambda: cluster_id)
    svc = services.KafkaService(StackConfig(home=tmp_path))
    svc.prepare()
    meta = (svc.data_dir / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}\n" in meta
