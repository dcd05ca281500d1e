"""Pseudonymization keys: versioned HMAC-SHA256 keys, passed in (never read from the
environment here; ``pipeline.settings`` is the one place that may).

Key file format (UTF-8 text, one entry per line, ``#`` starts a comment)::

    # auditpipe scrub keys
    active = k2
    k1 = hex:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    k2 = base64:q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=

A version is 1-16 of ``a-z 0-9 _ -``; a key is at least 32 bytes, written ``hex:`` or
``base64:``. ``active`` names the version new pseudonyms use; the others stay so old ones can
still be recognised. The file must not be readable by other users (mode 0600 or 0640).

A key read from a file or the environment must also look random (``check_key_strength``):
constant or repeated bytes, a short pattern repeated, a counting sequence, or bytes that are
all printable text (a passphrase, a dictionary word) are refused, with how to make a good one:
``auditpipe keys generate-hmac``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline.errors import ConfigError

MIN_KEY_BYTES = 32
_VERSION = re.compile(r"[a-z0-9_-]{1,16}", re.ASCII)
DEV_KEY_VERSION = "dev"
_DEV_LABEL = b"auditpipe development pseudonym key - NOT FOR PRODUCTION"


@dataclass(frozen=True)
class ScrubKeys:
    """Key versions to key bytes, and the active version."""

    keys: Mapping[str, bytes] = field(repr=False)
    active: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("scrub keys: no key given")
        for version, key in self.keys.items():
            if not _VERSION.fullmatch(version):
                raise ConfigError(
                    f"scrub keys: version {version!r} must be 1-16 of a-z, 0-9, '_' and '-'"
                )
            if len(key) < MIN_KEY_BYTES:
                raise ConfigError(
                    f"scrub keys: key {version} is {len(key)} bytes; at least {MIN_KEY_BYTES}"
                )
        if self.active not in self.keys:
            raise ConfigError(f"scrub keys: active version {self.active!r} has no key")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active]


def dev_keys() -> ScrubKeys:
    """A fixed, clearly labelled development key (version ``dev``): pseudonyms made with it
    are reproducible by anyone and protect nothing."""
    return ScrubKeys({DEV_KEY_VERSION: hashlib.sha256(_DEV_LABEL).digest()}, DEV_KEY_VERSION)


GENERATE_HINT = (
    "make one with `auditpipe keys generate-hmac --out FILE` (32 random bytes, mode 0600), "
    "or `python -c 'import secrets; print(secrets.token_hex(32))'`"
)
MIN_DISTINCT = 16  # distinct byte values (32 random bytes have about 28)
MAX_KEY_BYTES = 1024


def _weakness(key: bytes) -> str | None:
    """Why ``key`` cannot be random bytes, or None. Each rule refuses a random 32-byte key with
    probability under 1e-9."""
    n = len(key)
    if n > MAX_KEY_BYTES:
        return f"it is {n} bytes, more than {MAX_KEY_BYTES}"
    for period in range(1, n // 2 + 1):
        if key[period:] == key[:-period]:
            return f"it repeats a {period}-byte pattern"
    if len(set(key)) < MIN_DISTINCT:
        return f"it has only {len(set(key))} distinct byte values"
    if n > 1 and len({(b - a) % 256 for a, b in itertools.pairwise(key)}) < MIN_DISTINCT:
        return "it is a counting sequence"
    if all(0x20 <= b < 0x7F for b in key):
        return "it is printable text (a passphrase or word), not random bytes"
    return None


def check_key_strength(key: bytes, where: str) -> None:
    """ConfigError when ``key`` looks weak (see the module docstring)."""
    why = _weakness(key)
    if why is not None:
        raise ConfigError(f"{where}: the key is weak: {why}; {GENERATE_HINT}")


def _decode(value: str, where: str) -> bytes:
    kind, sep, data = value.partition(":")
    try:
        if sep and kind == "hex":
            return bytes.fromhex(data)
        if sep and kind == "base64":
            return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise ConfigError(f"{where}: the key is not valid {kind}") from None
    raise ConfigError(f"{where}: write the key as hex:<digits> or base64:<text>")


def parse_keys(text: str, source: str = "<keys>") -> ScrubKeys:
    keys: dict[str, bytes] = {}
    active: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{lineno}"
        name, sep, value = (part.strip() for part in line.partition("="))
        if not sep or not value:
            raise ConfigError(f"{where}: expected 'name = value'")
        if name == "active":
            active = value
        elif name in keys:
            raise ConfigError(f"{where}: key version {name!r} given twice")
        else:
            if not _VERSION.fullmatch(name):
                raise ConfigError(f"{where}: bad key version name (1-16 of a-z 0-9 _ -)")
            keys[name] = _decode(value, where)
            check_key_strength(keys[name], f"{where}: key {name}")
    if active is None:
        raise ConfigError(f"{source}: no 'active = <version>' line")
    return ScrubKeys(keys, active)


def load_keys_from_file(path: Path | str) -> ScrubKeys:
    """Read a key file (format in this module's docstring); refuses world-readable files."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read key file {p}: {exc.strerror}") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(f"key file {p} is readable or writable by others; chmod 600 it")
    return parse_keys(text, str(p))
