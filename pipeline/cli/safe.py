"""Printing what may hold hostile input: control characters out, input keys as short hashes.

Everything a command prints that can carry text from its input (an event, a rule file, an
archive's object keys, a proof) goes through ``clean``: C0/C1 control characters (ANSI escapes
included), bidi overrides and other format characters become ``?``, so nothing printed can
drive the terminal. A field name taken from the input is shown by ``key_ref`` as a short hash,
never as itself (a map key may be an email address or a secret).

Exit codes every command shares (the README lists them):
``0`` done, nothing wrong; ``1`` a check failed (``verify``, ``verify-proof``, ``prove`` when the
event is not archived); ``2`` the command cannot start or its input is unusable (bad option,
config, key, policy or rule file, archive location); ``3`` some input lines were rejected (the
JSON Lines commands; the others went through); ``4`` an unexpected internal error (reported as
its type only, never its text, which may quote input).
"""

from __future__ import annotations

import unicodedata

from pipeline.events.jsonform import input_key

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2
EXIT_REJECTED = 3
EXIT_INTERNAL = 4

MAX_PRINTED = 2000  # characters of one message


def _printable(ch: str) -> bool:
    if ch in "\n\t":
        return True
    return unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def clean(text: object, limit: int = MAX_PRINTED) -> str:
    """``text`` safe for a terminal or a log line: control and format characters become ``?``;
    longer than ``limit`` characters is cut (with ``…``)."""
    s = str(text)
    if len(s) > limit:
        s = s[:limit] + "…"
    if s.isascii() and s.isprintable():
        return s
    return "".join(ch if _printable(ch) else "?" for ch in s)


key_ref = input_key  # how a field name taken from the input is shown
