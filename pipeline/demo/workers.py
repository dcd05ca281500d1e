"""Start and stop the pipeline's workers as child processes (`auditpipe run ...`)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.archive.format.keys import generate
from pipeline.errors import StackError


@dataclass(frozen=True)
class DemoSecrets:
    """Development keys for the demo, kept under the stack home (never for production)."""

    hmac_key: str
    dlq_key: str
    signing_key: Path
    public_key: Path

    @classmethod
    def ensure(cls, directory: Path) -> DemoSecrets:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        hmac, dlq = directory / "hmac.key", directory / "dlq.key"
        for path in (hmac, dlq):
            if not path.exists():
                path.write_text(secrets.token_hex(32))
                path.chmod(0o600)
        keys = directory / "archive"
        private = sorted(keys.glob("*.key.pem")) if keys.is_dir() else []
        if not private:
            generate(keys)
            private = sorted(keys.glob("*.key.pem"))
        public = private[0].with_name(private[0].name.replace(".key.pem", ".pub.pem"))
        return cls(hmac.read_text().strip(), dlq.read_text().strip(), private[0], public)

    def env(self) -> dict[str, str]:
        return {
            "AUDITPIPE_HMAC_KEY": self.hmac_key,
            "AUDITPIPE_DLQ_KEY": self.dlq_key,
            "AUDITPIPE_ARCHIVE__SIGNING_KEY": str(self.signing_key),
        }


class Workers:
    def __init__(self, logs: Path, env: Mapping[str, str]) -> None:
        self.logs = logs
        self.env = {**os.environ, **env}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"demo-{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli.main", "run", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise StackError(
                    f"worker exited with code {proc.returncode}",
                    service=f"demo {name}",
                    log=self.logs / f"demo-{name}.log",
                )

    def stop(self, timeout_s: float = 60.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
