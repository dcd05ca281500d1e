"""Ed25519 signing keys (``cryptography``): generation, a signer, and a keyring of public keys.

A key id is the first 16 hex digits of SHA-256 of the raw 32-byte public key, so it follows from
the key itself and never from a file name. ``generate`` writes ``<id>.key.pem`` (PKCS#8, mode
0600) and ``<id>.pub.pem`` (SubjectPublicKeyInfo). A keyring is a directory of public keys
(every ``*.pem`` whose name contains ``pub``); manifests name the key id that signed them, so
adding a new key to the ring keeps every older batch verifiable.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipeline.errors import ConfigError

ALGORITHM = "Ed25519"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """A private key and its id; Ed25519 signatures are deterministic (RFC 8032)."""

    private: Ed25519PrivateKey
    key_id: str

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> Signer:
        return cls(private, key_id(private.public_key()))

    @classmethod
    def generate(cls) -> Signer:
        return cls.from_private(Ed25519PrivateKey.generate())

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def public_key(self) -> Ed25519PublicKey:
        return self.private.public_key()


def load_private_key(path: Path) -> Signer:
    """The signing key in ``path``; refused when other users may read or write the file (the
    same rule as scrub key files: mode 0600 or 0640)."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"signing key {path} not found") from None
    except OSError as exc:
        raise ConfigError(f"cannot read signing key {path}: {exc.strerror}") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(f"signing key {path} is readable or writable by others; chmod 600 it")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 private key")
    return Signer.from_private(key)


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"public key {path} not found") from None
    except OSError as exc:
        raise ConfigError(f"cannot read public key {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: not an Ed25519 public key")
    return key


def generate(out_dir: Path) -> tuple[Path, Path]:
    """Write a new key pair into ``out_dir``; return (private path, public path)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot use {out_dir} as the key directory: {exc.strerror}") from None
    signer = Signer.generate()
    private_path = out_dir / f"{signer.key_id}.key.pem"
    public_path = out_dir / f"{signer.key_id}.pub.pem"
    pem = signer.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


class Keyring:
    """Public keys by key id."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for key in keys:
            self.add(key)

    def add(self, key: Ed25519PublicKey) -> str:
        kid = key_id(key)
        self._keys[kid] = key
        return kid

    @property
    def keys(self) -> Mapping[str, Ed25519PublicKey]:
        return dict(self._keys)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        return cls([load_public_key(path)])

    @classmethod
    def from_dir(cls, directory: Path) -> Keyring:
        if not directory.is_dir():
            raise ConfigError(f"keyring {directory} is not a directory")
        files = sorted(p for p in directory.glob("*.pem") if "pub" in p.name)
        if not files:
            raise ConfigError(f"keyring {directory} holds no public keys (*pub*.pem)")
        return cls(load_public_key(p) for p in files)

    def verify(self, kid: str, data: bytes, signature: bytes) -> str | None:
        """None if ``signature`` by key ``kid`` over ``data`` holds, else the reason."""
        key = self._keys.get(kid)
        if key is None:
            known = ", ".join(sorted(self._keys)) or "none"
            return f"signed by key {kid}, which is not in the keyring (known: {known})"
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return f"signature does not verify with key {kid}"
        return None
