"""Where archive objects go: a small write-once Protocol, and a local-directory implementation.

The streaming archiver's S3 Object-Lock writer implements the same four methods. Keys are
``/``-separated relative paths (see ``layout``); ``list`` yields keys in lexicographic order,
like S3's ListObjectsV2.

``FileStore`` (``file:///DIR``) is for development, tests and offline imports. It is **not
WORM**: anyone with write access to the directory can change or delete objects. The verifier
detects that, but nothing prevents it; production archives use S3 Object Lock (COMPLIANCE).
"""

from __future__ import annotations

import builtins
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

from pipeline.errors import ConfigError, PipelineError


class ObjectConflictError(PipelineError):
    """put_if_absent found the key holding different bytes: the archive never overwrites."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"{key}: already exists with different content; refusing to overwrite")


class ObjectNotFoundError(PipelineError, KeyError):
    """get() of a key that does not exist."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"{key}: no such object")

    def __str__(self) -> str:
        return str(self.args[0])


class Store(Protocol):
    def put_if_absent(
        self, key: str, data: bytes, checksum: str, *, retain_until: datetime | None = None
    ) -> bool:
        """Create ``key`` with ``data`` (``checksum`` = hex SHA-256 of ``data``), locked until
        ``retain_until`` where the store can lock (S3 Object Lock COMPLIANCE).

        True if created; False if it already held identical bytes (a retry after a crash);
        raises ObjectConflictError if it holds different bytes.
        """
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; raises ObjectNotFoundError."""
        ...

    def list(self, prefix: str) -> Iterator[str]:
        """Every key starting with ``prefix``, in lexicographic order."""
        ...

    def exists(self, key: str) -> bool: ...


@runtime_checkable
class SeekableStore(Store, Protocol):
    """A store that lists from a point on, so recovery reads only the archive's recent end."""

    def list_after(self, prefix: str, start_after: str, limit: int) -> list[str]:
        """Up to ``limit`` keys under ``prefix`` sorting after ``start_after``, in order."""
        ...

    def list_dirs(self, prefix: str) -> list[str]:
        """The ``/``-terminated "directories" directly under ``prefix`` (S3 common prefixes)."""
        ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class FileStore:
    """A directory as an object store (not WORM; see the module docstring)."""

    root: Path
    fsync: bool = True

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or "\\" in key:
            raise ValueError(f"invalid object key {key!r}")
        if any(p in ("", ".", "..") or p.startswith(_TMP_PREFIX) for p in parts):
            raise ValueError(f"invalid object key {key!r}")
        return self.root.joinpath(*parts)

    def put_if_absent(
        self, key: str, data: bytes, checksum: str, *, retain_until: datetime | None = None
    ) -> bool:
        """``retain_until`` is ignored: a directory cannot lock (it is in the manifest)."""
        if sha256_hex(data) != checksum:
            raise ValueError(f"{key}: checksum does not match the data")
        path = self._path(key)
        if path.exists():
            return self._same(key, path, data)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # atomic create-if-absent: never replaces an existing file
            except FileExistsError:
                return self._same(key, path, data)
        finally:
            os.unlink(tmp)
        if self.fsync:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        return True

    @staticmethod
    def _same(key: str, path: Path, data: bytes) -> bool:
        if path.read_bytes() != data:
            raise ObjectConflictError(key)
        return False

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base_key = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self.root.joinpath(*base_key.split("/")) if base_key else self.root
        if not base.is_dir():
            return iter(())
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            head = "" if rel == "." else rel + "/"
            dirnames[:] = [
                d
                for d in dirnames
                if (head + d + "/").startswith(prefix) or prefix.startswith(head + d + "/")
            ]
            keys.extend(
                head + f
                for f in filenames
                if not f.startswith(_TMP_PREFIX) and (head + f).startswith(prefix)
            )
        return iter(sorted(keys))

    def list_after(self, prefix: str, start_after: str, limit: int) -> builtins.list[str]:
        out: builtins.list[str] = []
        for key in self.list(prefix):
            if key > start_after:
                out.append(key)
                if len(out) >= limit:
                    break
        return out

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        if not prefix.endswith("/"):
            raise ValueError(f"list_dirs takes a prefix ending in '/': {prefix!r}")
        base = self.root.joinpath(*prefix.strip("/").split("/"))
        if not base.is_dir():
            return []
        return sorted(prefix + d.name + "/" for d in base.iterdir() if d.is_dir())


def open_store(url: str, *, create: bool = True) -> FileStore:
    """A store for ``file:///DIR`` (S3 URLs come with the streaming archiver).

    With ``create=False`` (the readers: verify, prove) the directory must already exist: a
    mistyped path is an error, never a new empty archive that verifies."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ConfigError(f"unsupported archive URL {url!r}: this command takes file:///DIR")
    if parsed.netloc not in ("", "localhost"):
        raise ConfigError(f"{url!r}: use file:///absolute/path (three slashes)")
    path = unquote(parsed.path)
    if not path:
        raise ConfigError(f"{url!r} names no directory")
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"archive {url!r} is a file, not a directory")
    if not create and not root.is_dir():
        raise ConfigError(f"archive {url!r} does not exist (no such directory)")
    return FileStore(root)
