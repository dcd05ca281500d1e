"""Development keys for `auditpipe run all` and the demo, kept under the stack home (never for
production): pseudonym (HMAC) key, DLQ key, the archive's Ed25519 key pair and the shared
secret of the local signed webhooks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from pipeline.archive.format.keys import generate
from pipeline.settings import Settings

WEBHOOK_SECRET_FILE = "webhook.secret"  # noqa: S105 (a file name)


def _token_file(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class DevKeys:
    hmac_key: str
    dlq_key: str
    signing_key: Path
    public_key: Path
    webhook_secret_file: Path

    @classmethod
    def ensure(cls, directory: Path) -> DevKeys:
        """The keys in ``directory``, made on first use."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        hmac, dlq = _token_file(directory / "hmac.key"), _token_file(directory / "dlq.key")
        _token_file(directory / WEBHOOK_SECRET_FILE)
        keys = directory / "archive"
        private = sorted(keys.glob("*.key.pem")) if keys.is_dir() else []
        if not private:
            generate(keys)
            private = sorted(keys.glob("*.key.pem"))
        public = private[0].with_name(private[0].name.replace(".key.pem", ".pub.pem"))
        return cls(hmac, dlq, private[0], public, directory / WEBHOOK_SECRET_FILE)

    @property
    def webhook_secret(self) -> str:
        return self.webhook_secret_file.read_text().strip()

    def env(self, settings: Settings | None = None) -> dict[str, str]:
        """The stages' key variables; with ``settings``, only those the settings lack (keys the
        user configured are kept)."""
        out = {
            "AUDITPIPE_HMAC_KEY": self.hmac_key,
            "AUDITPIPE_DLQ_KEY": self.dlq_key,
            "AUDITPIPE_ARCHIVE__SIGNING_KEY": str(self.signing_key),
        }
        if settings is None:
            return out
        missing = " ".join(settings.missing(["hmac_key", "dlq_key", "signing_key"]))
        return {k: v for k, v in out.items() if k in missing}
