"""The input contract of the fields a policy keeps verbatim (issue 16): each has a strict shape,
and what happens to a value outside it is fixed per field.

=========================  ==========================================  ========================
field                      shape                                       outside it
=========================  ==========================================  ========================
event_id, request_id       an id: ``[A-Za-z0-9][A-Za-z0-9_.:+/=-]*``,  event rejected (DLQ)
                           at most 128; also scanned: a finding
                           rejects the event too
trace_id / span_id         32 / 16 hex digits                          event rejected (DLQ)
actor.country              ISO 3166-1 alpha-2 (``[A-Z]{2}``)           value -> ``[invalid]``
http.method                an HTTP method token (GET, POST, ..., 30)   value -> ``[invalid]``
pipeline.scrub[].kind      a kind the scrubber writes                  value -> ``[invalid]``
pipeline.scrub[].treatment a treatment                                 value -> ``[invalid]``
pipeline.scrub[].field     printable, at most 256; scanned             value -> ``[invalid]``
pipeline.enrichment.*      key ``[a-z][a-z_]*`` (32); value an         key: entry dropped;
                           identifier (128), scanned                   value -> ``[invalid]``
service, environment,      an identifier: ``[A-Za-z0-9][A-Za-z0-9_.:   value -> ``[invalid]``
action, actor.type,        /-]*``, at most 64; scanned
data.classification
=========================  ==========================================  ========================

A field a custom policy keeps that has no shape here is kept as it is: the SDK relies on
that to leave the fields it cannot pseudonymize (no key) to the sanitizer.

"Scanned": a value inside its shape still goes through the detectors (in the same pass as
the free text): ``a4111111111111111`` is an identifier and holds a card. A finding in a kept
field is treated as in free text; in an id, which is never altered, it rejects the event.
The ids are rejected rather than rewritten because they join events across services (a
rewritten id would silently break the join); the other fields are rewritten, so the event
is kept (nothing lost) and ``[invalid]`` with a remark (kind ``invalid``) says what happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.scrub.treatments import FIELD_TREATMENTS

HTTP_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
     "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
     "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
     "PURGE", "LINK", "UNLINK", "ACL")
)  # fmt: skip


_WORD = r"[A-Za-z][A-Za-z._-]{0,18}"
_UUID = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
_HEX = r"[0-9a-fA-F]{16,64}"
_DIGIT_RUN = re.compile(r"\d{12}")
_INERT = re.compile(rf"(?P<w>{_WORD})|(?P<u>{_UUID})|(?P<h>{_HEX})")


def inert(value: str) -> bool:
    """Nothing a detector looks for can be in ``value``, so scanning it is skipped (most kept
    values are such, and half of all random UUIDs fire the IBAN trigger):

    * a short word: at most 19 letters, dots, dashes and underscores (``billing-api``,
      ``role.grant``): no digit, no ``@``, ``:`` or ``=``, no space, and shorter than any
      token made of letters (20 or more: AKIA…, ghp_…);
    * a UUID (8-4-4-4-12 hex): random ones often hold four all-digit groups that pass a card
      check by chance, and rejecting those would lose 1 event in ~700 (measured on the
      broker); a UUID holds no ``@``, space or keyword (what it can encode, any hex id can);
    * a hex id of 16-64 digits without 12 decimal digits in a row.
    """
    m = _INERT.fullmatch(value)
    if m is None:
        return False
    return m.lastgroup != "h" or not _DIGIT_RUN.search(value)


@dataclass(frozen=True)
class Shape:
    what: str  # for the reason: "an id", "an ISO 3166-1 alpha-2 code"
    pattern: re.Pattern[str] | None = None
    words: frozenset[str] | None = None
    scan: bool = True  # a value inside the shape is scanned too
    reject: bool = False  # outside the shape (or a finding): reject the event

    def __post_init__(self) -> None:
        # one fullmatch tells both: inside the shape, and inert (group "w" or "h", see inert)
        combined = None
        if self.pattern is not None and self.scan:
            combined = re.compile(
                rf"(?P<w>{_WORD})|(?P<u>{_UUID})|(?P<h>{_HEX})|(?:{self.pattern.pattern})",
                self.pattern.flags,
            )
        object.__setattr__(self, "_combined", combined)

    def fits(self, value: str) -> bool:
        if self.words is not None:
            return value in self.words
        return self.pattern is not None and self.pattern.fullmatch(value) is not None

    def check(self, value: str) -> int:
        """``MISFIT``; ``FITS`` (to be scanned); ``INERT`` (fits, nothing to scan for)."""
        combined: re.Pattern[str] | None = self._combined  # type: ignore[attr-defined]
        if combined is None:
            return INERT if self.fits(value) else MISFIT
        m = combined.fullmatch(value)
        if m is None:
            return MISFIT
        group = m.lastgroup
        if group in ("w", "u") or (group == "h" and not _DIGIT_RUN.search(value)):
            return INERT
        return FITS


MISFIT, FITS, INERT = 0, 1, 2


def _ident(limit: int) -> re.Pattern[str]:
    return re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:/-]{{0,{limit - 1}}}", re.ASCII)


ID = Shape("an id (letters, digits, _.:+/=-; 128 at most)",
           re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+/=-]{0,127}", re.ASCII), reject=True)  # fmt: skip
VOCABULARY = Shape("an identifier (letters, digits, _.:/-; 64 at most)", _ident(64))
IDENTIFIER = Shape("an identifier (letters, digits, _.:/-; 128 at most)", _ident(128))  # values
#: the keys of a kept map (pipeline.enrichment): lower-case words, no digits
MAP_KEY = re.compile(r"[a-z][a-z_]{0,31}", re.ASCII)


def shapes(kinds: frozenset[str]) -> dict[str, Shape]:
    """The shape of each field that has one (``kinds``: what ``pipeline.scrub[].kind`` may
    say)."""
    return {
        "event_id": ID,
        "request_id": ID,
        "trace_id": Shape("32 hex digits", re.compile(r"[0-9a-fA-F]{32}"), scan=False, reject=True),
        "span_id": Shape("16 hex digits", re.compile(r"[0-9a-fA-F]{16}"), scan=False, reject=True),
        "service": VOCABULARY,
        "environment": VOCABULARY,
        "action": VOCABULARY,
        "actor.type": VOCABULARY,
        "data.classification": VOCABULARY,
        "actor.country": Shape(
            "an ISO 3166-1 alpha-2 code", re.compile(r"[A-Z]{2}", re.ASCII), scan=False
        ),
        "http.method": Shape("an HTTP method", words=HTTP_METHODS, scan=False),
        "pipeline.scrub[].kind": Shape("a kind", words=kinds, scan=False),
        "pipeline.scrub[].treatment": Shape(
            "a treatment", words=frozenset(FIELD_TREATMENTS), scan=False
        ),
        "pipeline.scrub[].field": Shape(
            "a field path", re.compile(r"[^\x00-\x1f\x7f-\x9f]{1,256}")
        ),
        "pipeline.enrichment.*": IDENTIFIER,
    }
