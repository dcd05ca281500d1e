"""The one exception tree of auditpipe.

Two branches, as in CONVENTIONS.md: start-up errors that stop the process with a clear
message (configuration, rules, the local stack), and per-message errors that carry the
record's coordinates and raw bytes so an error policy can dead-letter them.
"""

from __future__ import annotations

from pathlib import Path


class PipelineError(Exception):
    """Root of every error auditpipe raises on purpose."""


# --- start-up errors ---------------------------------------------------------------------


class StartupError(PipelineError):
    """Stops the process: the operator must fix something before it can run."""


class ConfigError(StartupError):
    """Invalid or missing configuration."""


class RuleError(StartupError):
    """A rule or policy file is invalid; carries where."""

    def __init__(self, message: str, *, file: Path | str, line: int | None = None) -> None:
        self.file = str(file)
        self.line = line
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {message}")


class StackError(StartupError):
    """A service of the local development stack failed; says which one and where its log is."""

    def __init__(self, message: str, *, service: str, log: Path | None = None) -> None:
        self.service = service
        self.log = log
        hint = f" (log: {log})" if log is not None else ""
        super().__init__(f"{service}: {message}{hint}")


# --- per-message errors -------------------------------------------------------------------


class MessageError(PipelineError):
    """A single record could not be handled; carries its coordinates and raw bytes."""

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        raw: bytes | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.raw = raw
        super().__init__(message)

    @property
    def reason(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class DeserializationError(MessageError):
    """The bytes are not a valid event (wire format, schema, JSON)."""


class InvalidEventError(MessageError):
    """An event does not match its schema; the message names the field path and the reason."""


class StateRecordError(DeserializationError):
    """A state or changelog record (router groups, outbox, detector windows, ...) does not
    decode to its type; the message names the type and the field."""


class ProcessingError(MessageError):
    """A valid event failed in a stage."""


# --- flow control ----------------------------------------------------------------------------


class RetryableError(PipelineError):
    """A transient failure (broker, S3, HTTP): the same call may succeed later."""


class RegistryUnavailableError(RetryableError):
    """The schema registry did not answer (down, restarting, 5xx): not the record's fault, so
    the record must be retried, never dead-lettered or skipped."""


class BackpressureError(RetryableError):
    """A buffer is full; the caller should slow down or wait, never drop silently."""


class CommitError(PipelineError):
    """Offsets could not be committed for a reason retrying does not fix (authorization, an
    invalid request, a closed or fenced consumer): the worker stops rather than run on without
    committing."""
