"""The scanning copy of a string: what the detectors read, so a value written in another form
of the same characters is still found.

``fold(text)`` applies, per character and only to non-ASCII text: Unicode format characters
(zero-width space and joiners, bidi marks, the soft hyphen, U+FEFF) are removed; a combining
mark right after an ASCII character is removed (4 and U+0332 ...); decimal digits of any
script become ASCII digits (full-width U+FF14, Arabic-Indic U+0664); NFKC maps compatibility
forms (full-width U+FF20 at sign and U+FF0E full stop, letters, no-break or em spaces);
ideographic full stops become ``.``.
Non-ASCII letters stay (names and IDN domains: the email detector reads Unicode domains).

It returns the folded string and, for each of its characters, the index of the original
character it came from, so each finding maps back to the original span, from its first
to its last contributing character: a tag then replaces every original character of the
value, zero-width characters inside it included. The output keeps the original text
everywhere else, untouched (the scanning copy is never written out). ASCII text needs no
copy (``None``): the hot path pays one ``str.isascii``.
"""

from __future__ import annotations

import unicodedata

_STOPS = {"\u3002": ".", "\uff61": ".", "\ufe52": "."}


def fold(text: str) -> tuple[str, list[int]] | None:
    """The scanning copy and its map back to ``text`` (None: ``text`` is its own copy)."""
    if text.isascii():
        return None
    out: list[str] = []
    origin: list[int] = []
    category = unicodedata.category
    for i, ch in enumerate(text):
        if ch < "\x80":
            out.append(ch)
            origin.append(i)
            continue
        cat = category(ch)
        if cat == "Cf" or (cat == "Mn" and out and out[-1] < "\x80"):
            continue
        if cat == "Nd":
            rep = str(unicodedata.decimal(ch))
        else:
            rep = unicodedata.normalize("NFKC", ch)
            rep = _STOPS.get(rep, rep)
        out.extend(rep)
        origin.extend([i] * len(rep))
    return "".join(out), origin


def span_back(origin: list[int], start: int, end: int) -> tuple[int, int]:
    """The original span of the folded span ``[start, end)``."""
    return origin[start], origin[end - 1] + 1
