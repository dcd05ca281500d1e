"""Worst-case cost of each detector on adversarial input (issue 16): for every detector, the
families of hostile strings (repeated trigger fragments, digit runs, unterminated quotes,
keyword floods) on which its trigger fires, and the time of its precise pattern and check
(``Detector.find``) on them, in µs per KB. A string no trigger fires on never reaches
``find``, so only firing families count.

The same families drive ``tests/unit/scrub/test_detector_cost.py``, which asserts that the
time grows linearly (8 times the input, at most ~3 times 8 the time: quadratic would be 64).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from pipeline.scrub.base import Detector
from pipeline.scrub.detectors import DETECTORS


def _cycle(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


_UNITS = {
    "eyJ": "eyJ",
    "eyJ-parts": "eyJa.eyJb.",
    "eyJ-dot": "eyJa.b",
    "digits": "4",
    "digits-spaced": "4 ",
    "digits-dashed": "41-",
    "plus-groups": "+1 ",
    "zero-groups": "0 ",
    "iban-upper": "DE89 ",
    "iban-lower": "de89",
    "at": "a@",
    "at-dot": "a@b.",
    "dotted": "1.",
    "colons": "a:",
    "hex-dotted": "0x1.",
    "quote-open": 'key="',
    "quote-single": "key='",
    "secret-eq": "password=",
    "secret-amp": "token=a&",
    "cookie-open": 'cookie="',
    "cookie-pairs": "cookie=a;",
    "bearer": "bearer ",
    "authorization": "authorization:",
    "url-userinfo": "a://b:",
    "url-colon": "a://:",
    "private-key": "-----BEGIN PRIVATE KEY-----",
    "xml-tag": "<key>",
    "cli-flag": "--key ",
    "ssn-word": "ssn ",
    "name-word": "Dear ",
    "name-words": "Dear Ab ",
    "address-word": "address ",
    "dob-word": "dob ",
    "passport-word": "passport ",
    "phone-word": "tel ",
    "phone-number": "tel 12345678 ",
    "paren-area": "(415) ",
    "ghp": "ghp_",
    "sk": "sk-",
    "sendgrid": "SG.",
    "slack": "xoxb-",
    "aws-secret": "aws_secret=",
    "akia": "AKIA",
    "upper": "A",
    "alnum": "a1",
    "cpf-word": "cpf 1",
    "nino": "AB 12 ",
    "ip-word": "ip=12345678 ",
    "url-host": "http://1.",
}

#: a value of the detector's shape (valid or near it), repeated glued and spaced: the flood
#: of candidates each costs a check
_SEEDS = {
    "url-creds": "a://b:c@",
    "github": "ghp_" + "A" * 36,
    "gitlab": "glpat-" + "a" * 20,
    "stripe": "sk_live_" + "a" * 10,
    "google": "AIza" + "a" * 35,
    "npm": "npm_" + "a" * 36,
    "sendgrid-key": "SG." + "a" * 16 + "." + "a" * 16,
    "twilio": "SK" + "0" * 32,
    "openai": "sk-proj-" + "a" * 20,
    "aadhaar": "2345 6789 0123",
    "pan": "ABCPE1234F",
    "nir": "1 85 05 78 006 084 36",
    "dni": "12345678Z",
    "nie": "X1234567L",
    "fiscal-code": "RSSMRA85T10A562S",
    "tax-id": "12 345 678 903",
    "bsn": "1234.56.782",
    "pesel": "pesel 44051401359",
    "nhs": "943 476 5919",
    "nino-full": "AB 12 34 56 C",
    "phone-paren": "(415) 555 2671",
    "phone-trunk": "0612345678",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "email": "alice@example.org",
    "ipv4": "203.0.113.7",
    "ipv6": "2001:db8::1",
}
FAMILIES: dict[str, Callable[[int], str]] = {
    **{name: _cycle(unit) for name, unit in _UNITS.items()},
    **{name: _cycle(seed + " ") for name, seed in _SEEDS.items()},
    **{name + "-glued": _cycle(seed) for name, seed in _SEEDS.items()},
}


def firing(detector: Detector) -> list[str]:
    """The families whose sample the detector's trigger fires on (others never reach find)."""
    trigger = re.compile(detector.trigger, re.ASCII)
    return [name for name, gen in FAMILIES.items() if trigger.search(gen(400))]


def _best(find: Callable[[str], object], text: str, runs: int = 3) -> float:
    """The least CPU time of ``runs`` calls (process time: other processes on a shared machine
    do not count; the scrubber is single-threaded)."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.process_time()
        find(text)
        best = min(best, time.process_time() - t0)
    return best


def scaling(detector: Detector, family: str, floor_s: float = 0.02) -> tuple[int, float, float]:
    """``(n, t(n), t(8n))``: n doubles from 1 KB until t(n) reaches ``floor_s`` (so the
    clock's noise stays small against it) or 2 MB."""
    gen = FAMILIES[family]
    n = 1000
    while True:
        t1 = _best(detector.find, gen(n), runs=2)
        if t1 >= floor_s or n >= 2_000_000:
            break
        n *= 2
    return n, t1, _best(detector.find, gen(8 * n), runs=2)


def worst_case(size: int = 64_000) -> dict[str, tuple[str, float]]:
    """Per detector: the family that costs most, and its cost in µs per KB at ``size``."""
    out: dict[str, tuple[str, float]] = {}
    for name, detector in DETECTORS.items():
        worst = ("-", 0.0)
        for family in firing(detector) or ["digits"]:
            us_per_kb = _best(detector.find, FAMILIES[family](size), runs=1) / size * 1e9
            if us_per_kb > worst[1]:
                worst = (family, us_per_kb)
        out[name] = worst
    return out
