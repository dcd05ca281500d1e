"""Benign look-alikes for the accuracy suite: values that resemble personal data or secrets
(ids, hashes, timestamps, versions, order numbers, amounts, ...) and must survive scrubbing."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _not_luhn(rng: random.Random, prefix: str, length: int) -> str:
    while True:
        digits = prefix + _pick(rng, string.digits, length - len(prefix))
        if not _luhn_ok(digits):
            return digits


def _group4(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


BENIGN: dict[str, Callable[[random.Random], str]] = {
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "uuid_hex": lambda r: uuid.UUID(int=r.getrandbits(128)).hex,
    "sha1": lambda r: r.randbytes(20).hex(),
    "sha256": lambda r: r.randbytes(32).hex(),
    "sha256_upper": lambda r: r.randbytes(32).hex().upper(),
    "git_short": lambda r: r.randbytes(6).hex()[: r.randint(7, 12)],
    "trace_id": lambda r: f"{r.getrandbits(128):032x}",
    "traceparent": lambda r: f"00-{r.getrandbits(128):032x}-{r.getrandbits(64):016x}-01",
    "timestamp": lambda r: (
        f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
        f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        f".{r.randint(0, 999999):06d}Z"
    ),
    "clock": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
    "epoch_ms": lambda r: str(r.randint(1_600_000_000_000, 1_900_000_000_000)),
    "epoch_us": lambda r: str(r.randint(1_600_000_000_000_000, 1_900_000_000_000_000)),
    "version_v": lambda r: "v" + ".".join(str(r.randint(0, 20)) for _ in range(4)),
    "version_word": lambda r: f"version {'.'.join(str(r.randint(0, 20)) for _ in range(4))}",
    "version_product": lambda r: (
        f"Chrome/{r.randint(90, 140)}.0.{r.randint(0, 9999)}.{r.randint(0, 200)}"
    ),
    "version_5part": lambda r: ".".join(str(r.randint(0, 30)) for _ in range(5)),
    "semver": lambda r: (
        f"{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}-rc.{r.randint(1, 9)}"
    ),
    "order_number": lambda r: _not_luhn(
        r, r.choice(["4", "51", "37", "6011", "1", "9"]), r.randint(13, 19)
    ),
    "order_grouped": lambda r: _group4(_not_luhn(r, r.choice(["4", "52", "6011"]), 16)),
    "amount": lambda r: (
        r.choice(["EUR ", "$", "USD ", "£"]) + f"{r.randint(1, 99999):,}.{r.randint(0, 99):02d}"
    ),
    "amount_eu": lambda r: f"{r.randint(1, 999)}.{r.randint(0, 999):03d},{r.randint(0, 99):02d} €",
    "http_status": lambda r: (
        f"HTTP {r.choice([200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503])}"
    ),
    "invoice": lambda r: f"INV-{r.randint(2020, 2026)}-{r.randint(0, 999999):06d}",
    "date": lambda r: f"{r.randint(2000, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "mac": lambda r: ":".join(f"{r.randint(0, 255):02x}" for _ in range(6)),
    "arn": lambda r: (
        f"arn:aws:iam::{r.randint(10**11, 10**12 - 1)}:role/{r.choice(['Admin', 'ReadOnly'])}"
    ),
    "port": lambda r: f"localhost:{r.randint(1024, 65535)}",
    "cpp": lambda r: r.choice(["std::vector<int>", "Foo::Bar::baz()", "crate::scrub::run"]),
    "duration": lambda r: f"{r.randint(1, 99999)}ms",
    "percent": lambda r: f"{r.randint(0, 100)}.{r.randint(0, 99):02d}%",
    "k8s_pod": lambda r: f"api-{r.randbytes(5).hex()[:9]}-{_pick(r, string.ascii_lowercase, 5)}",
    "token_count": lambda r: f"max_tokens={r.randint(1, 8192)}",
    "us_zip": lambda r: f"{r.randint(10000, 99999)}-{r.randint(1000, 9999)}",
    # near misses of the national-phone, keyword-SSN, lower-case IBAN and %40 detectors
    "nine_digit_id": lambda r: str(r.randint(10**8, 10**9 - 1)),
    "zero_padded_id": lambda r: f"{r.randint(0, 10**8):09d}",
    "date_dotted": lambda r: (
        f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2000, 2030)}"
    ),
    "date_slash": lambda r: (
        f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(2000, 2030)}"
    ),
    "time_range": lambda r: f"{r.randint(0, 23):02d}:00-{r.randint(0, 23):02d}:30",
    "git_describe": lambda r: (
        f"v{r.randint(0, 9)}.{r.randint(0, 40)}.{r.randint(0, 9)}-"
        f"{r.randint(1, 99)}-g{r.randbytes(4).hex()[:7]}"
    ),
    "ssn_word": lambda r: f"ssn lookups {r.randint(1, 99999)}",
    "encoded_path": lambda r: r.choice(
        ["reports%2F2026%2Fq3.csv", "user%40localhost", "a%20b%3Dc"]
    ),
    "hex_lower": lambda r: "".join(r.choice("abcdef") for _ in range(2)) + r.randbytes(12).hex(),
    "bad_ssn": lambda r: r.choice(
        [
            f"000-{r.randint(10, 99)}-{r.randint(1000, 9999)}",
            f"666-{r.randint(10, 99)}-{r.randint(1000, 9999)}",
            f"9{r.randint(10, 99)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}",
        ]
    ),
}
