"""Key material of the local stack's secured Kafka listener: CA, broker certificate, SCRAM
credentials per principal, and one librdkafka properties file per principal.

Everything lives under ``<stack home>/secure/`` (directories 0700, files 0600) and is made once
per stack: a second ``stack up`` reuses it, so credentials survive restarts; ``stack down
--purge`` deletes it with the data it protects.

```
secure/
  ca.pem                     the stack's CA certificate (clients trust it)
  ca-key.pem                 its private key (only used to sign the broker certificate)
  broker-keystore.pem        broker private key (PKCS#8) + certificate chain, ssl.keystore.type=PEM
  credentials.json           {"principal": "password", ...}
  clients/<principal>.properties   bootstrap, SASL_SSL, SCRAM-SHA-512, user, password, CA
```

The principals are the roles of ``deploy/kafka/acls.yaml``: one per stage, one archiver per S3
region, the analyst, the admin (the only super user in secure mode) and break-glass.

Two modes of one broker (``StackConfig.secure``; ``stack up --secure``):

- **dev (default)**: the ``PLAINTEXT`` listener on ``kafka_port`` (9092) stays for the demo,
  the tests and every command that has no credentials yet, and a ``SASL_SSL`` listener
  (SCRAM-SHA-512 over TLS) listens on ``kafka_secure_port`` (9094). The ``StandardAuthorizer``
  runs with ``allow.everyone.if.no.acl.found=false`` in both modes; in dev mode the plaintext
  principal ``User:ANONYMOUS`` is a super user, so the plaintext listener is as open as before
  while every SASL_SSL principal gets exactly its ACLs. That is what the authorization tests
  run against. Limit: anyone on the loopback can use the plaintext listener as a super user,
  so dev mode protects nothing from a local process; it exists to test ACLs, not to enforce.
- **secure**: no plaintext client listener; ``User:admin`` is the only SCRAM super user. The
  KRaft controller listener cannot use SCRAM (the credentials live in the metadata it serves),
  so it is TLS with client certificates required: only the holder of the broker's key (its
  principal ``User:broker``, mapped from the certificate's CN, the other super user) gets
  through. Limit: the CA key sits next to the broker key under ``.stack/secure/``, so whoever
  reads that directory can mint a ``broker`` certificate; on a real cluster the CA stays
  offline and the controllers run on their own hosts.

SCRAM credentials are added when the KRaft storage is formatted (``StorageTool format
--add-scram``) and upserted after every start (``alter_user_scram_credentials``), so a data
directory formatted before this module existed gets them on its next dev-mode start; a secure
start refuses such a directory until then (its admin could not log in).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pipeline.stack.config import StackConfig

ADMIN = "admin"
BROKER = "broker"  # the broker's own identity on the controller listener (mTLS, secure mode)
SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
_STAGE_PRINCIPALS = ("producer", "sanitizer", "detector", "router", "analyst", "break-glass")


def principals(cfg: StackConfig) -> tuple[str, ...]:
    """Every SCRAM principal of the stack, admin first."""
    archivers = tuple(f"archiver-{r.name}" for r in cfg.s3_regions)
    return (ADMIN, *_STAGE_PRINCIPALS, *archivers)


def _write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` readable by the owner only (created 0600, never wider)."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


@dataclass(frozen=True)
class SecureFiles:
    """Paths of the secured listener's material for one stack."""

    dir: Path

    @classmethod
    def of(cls, cfg: StackConfig) -> SecureFiles:
        return cls(cfg.root / "secure")

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca-key.pem"

    @property
    def broker_keystore(self) -> Path:
        return self.dir / "broker-keystore.pem"

    @property
    def credentials_file(self) -> Path:
        return self.dir / "credentials.json"

    @property
    def clients_dir(self) -> Path:
        return self.dir / "clients"

    def client_properties(self, principal: str) -> Path:
        return self.clients_dir / f"{principal}.properties"

    def credentials(self) -> dict[str, str]:
        if not self.credentials_file.is_file():
            return {}
        data = json.loads(self.credentials_file.read_text())
        return {str(k): str(v) for k, v in data.items()}


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    # PKCS#8 unencrypted: what Kafka's PEM keystore reads without ssl.key.password
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _make_ca(files: SecureFiles) -> None:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditpipe local stack CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(files.ca_key, _pem_key(key))
    _write_private(files.ca_cert, cert.public_bytes(serialization.Encoding.PEM))


def _make_broker_cert(files: SecureFiles, host: str) -> None:
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    if host != "127.0.0.1":
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BROKER)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(
        serialization.Encoding.PEM
    )
    _write_private(files.broker_keystore, _pem_key(key) + chain)


def client_properties_text(cfg: StackConfig, files: SecureFiles, user: str, password: str) -> str:
    """A librdkafka properties file (``kcat -F``; confluent-kafka takes its keys as they are)."""
    return "\n".join(
        [
            f"# principal {user} of the auditpipe stack at {cfg.root}; written by `stack up`",
            f"bootstrap.servers={cfg.secure_bootstrap_servers}",
            "security.protocol=SASL_SSL",
            f"sasl.mechanism={SCRAM_MECHANISM}",
            f"sasl.username={user}",
            f"sasl.password={password}",
            f"ssl.ca.location={files.ca_cert}",
            "",
        ]
    )


def ensure(cfg: StackConfig) -> SecureFiles:
    """Make whatever is missing (CA, broker certificate, credentials of new principals) and
    (re)write the client properties files; existing keys and passwords are kept."""
    files = SecureFiles.of(cfg)
    _private_dir(files.dir)
    _private_dir(files.clients_dir)
    if not (files.ca_cert.is_file() and files.ca_key.is_file()):
        _make_ca(files)
        files.broker_keystore.unlink(missing_ok=True)
    if not files.broker_keystore.is_file():
        _make_broker_cert(files, cfg.host)
    creds = files.credentials()
    missing = [p for p in principals(cfg) if p not in creds]
    if missing:
        creds.update({p: secrets.token_hex(24) for p in missing})
        _write_private(files.credentials_file, json.dumps(creds, indent=2, sort_keys=True))
    for user, password in creds.items():
        _write_private(
            files.client_properties(user), client_properties_text(cfg, files, user, password)
        )
    return files
