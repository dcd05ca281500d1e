"""An archiver started while its S3 region is down waits for the region instead of exiting
(found by the e2e run, tests/e2e). The region is a versitygw of this test's own (the stack's
binary, a temp dir, a free port) that comes up only after the wait has begun."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError

from pipeline.archive.format.s3client import s3_client
from pipeline.archive.write.runner import wait_for_bucket
from pipeline.settings import Settings

pytestmark = pytest.mark.integration
REGION = "eu-central-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_archiver_waits_for_a_region_that_is_down(stack: Settings, tmp_path: Path) -> None:
    versitygw = stack.stack.versitygw_bin
    if not versitygw.is_file():
        pytest.skip(f"{versitygw} not built (auditpipe stack fetch)")
    port = _free_port()
    for sub in ("objects", "versions"):
        (tmp_path / sub).mkdir()
    settings = Settings(
        s3_endpoints={REGION: f"http://127.0.0.1:{port}"},
        s3_access_key_id="downtest",
        s3_secret_access_key="downtest-secret",
    )
    s3 = s3_client(settings, REGION, timeout_s=2)
    with pytest.raises(BotoCoreError):  # nothing listens: a bounded wait gives up
        wait_for_bucket(s3, "auditpipe-archive-down", REGION, give_up_s=0.5)

    procs: list[subprocess.Popen[bytes]] = []

    data = [str(tmp_path / "versions"), str(tmp_path / "objects")]
    argv = [str(versitygw), "--port", f"127.0.0.1:{port}", "--region", REGION, "--quiet"]
    argv += ["posix", "--versioning-dir", *data]
    env = {
        **os.environ,
        "ROOT_ACCESS_KEY_ID": "downtest",
        "ROOT_SECRET_ACCESS_KEY": "downtest-secret",
    }

    def region_comes_up() -> None:
        time.sleep(2.0)  # the wait below is already under way
        procs.append(
            subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )

    later = threading.Thread(target=region_comes_up)
    later.start()
    try:
        started = time.monotonic()
        wait_for_bucket(s3, "auditpipe-archive-down", REGION, cap_s=1.0, give_up_s=60)
        assert time.monotonic() - started >= 2.0
        s3.head_bucket(Bucket="auditpipe-archive-down")  # it exists now
    finally:
        later.join()
        for proc in procs:
            proc.kill()
            proc.wait()
