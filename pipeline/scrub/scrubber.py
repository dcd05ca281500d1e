"""The scrubber: applies a compiled policy to one event datum.

``Scrubber(policy, keys).scrub(datum)`` returns a new datum (the input is not touched) whose
``pipeline.scrub`` lists what was treated — field path, detector kind and treatment, never a
value — and whose ``pipeline.key_version`` names the pseudonym key. ``event_id``,
``request_id``, ``trace_id``, ``span_id`` and ``ts`` are never altered (an id outside its
shape, or holding a finding, rejects the event: ``contract.py``). Scrubbing a scrubbed event
changes no value again (tags and truncated IPs are fixed points), except pseudonyms: a ``ps:``
value in the input is pseudonymized again unless the scrubber is told to trust them
(``trust_pseudonyms``), since a producer could copy one. The detectors read a normalized copy
of each string (``normalize.py``); kept fields are checked against their shapes.

The keys of maps the policy does not keep (``details``) are free text too: a key holding a
finding is renamed to its treated form (``{"alice@example.com": …}`` → ``{"[email]": …}``,
remark field ``details.{key}``), and a key that names a secret (``password``, ``x-api-key``)
has its value treated as a ``secret`` whatever it looks like.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pipeline.errors import InvalidEventError
from pipeline.scrub.base import tag_kinds
from pipeline.scrub.config import ScrubPolicy
from pipeline.scrub.context import KEY_KINDS
from pipeline.scrub.contract import FITS, MAP_KEY, MISFIT, Shape, shapes
from pipeline.scrub.detectors import DETECTORS, Finding, resolve, secret_name
from pipeline.scrub.engines import Scanner, build_scanner
from pipeline.scrub.fields import deep_copy, locate
from pipeline.scrub.keys import ScrubKeys
from pipeline.scrub.normalize import fold, span_back
from pipeline.scrub.treatments import Pseudonymizer, mask, redact, truncate_ip
from pipeline.scrub.validators import loose_ipv4

#: map keys whose kind a scrubber remembers (cleared when full: keys are few in practice)
_KEY_CACHE = 10_000

Place = tuple[Any, Any, str]  # (container, key or index, field path)
Remarks = list[dict[str, str]]

_DIGITS = re.compile(r"[0-9\s_.:+/=()-]+", re.ASCII)  # a finding of digits alone


def key_kind(key: Any) -> str | None:
    """The kind a map key says its value is (``password`` -> ``secret``), else None."""
    if type(key) is not str:
        return None
    if secret_name(key):
        return "secret"
    return KEY_KINDS.get(key.lower().replace("-", "_"))


def _remark(path: str, kind: str, treatment: str) -> dict[str, str]:
    return {"field": path, "kind": kind, "treatment": treatment}


class _Work:
    """What one scrub call collects: free-text strings to scan, drops, remarks."""

    __slots__ = ("drops", "keys", "places", "remarks", "strict", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.places: list[Place] = []
        self.drops: list[Place] = []
        self.remarks: Remarks = []
        self.keys: list[tuple[dict[Any, Any], str, dict[str, str], str]] = []  # map keys
        self.strict: set[int] = set()  # texts (ids) where a finding rejects the event


class Scrubber:
    """``trust_pseudonyms``: a value that already looks like one of our pseudonyms
    (``ps:<version>:<hex>``) is kept as it is. Off by default: such a value comes from the
    input, and a producer could copy someone else's pseudonym from the events it reads, so
    it is pseudonymized again like any value (issue 16)."""

    def __init__(
        self,
        policy: ScrubPolicy,
        keys: ScrubKeys,
        engine: str | None = None,
        *,
        trust_pseudonyms: bool = False,
    ) -> None:
        self.policy = policy
        self.trust_pseudonyms = trust_pseudonyms
        self.detectors = tuple(DETECTORS.values())
        self.scanner: Scanner = build_scanner(engine or policy.engine, self.detectors)
        self.pseudonymize = Pseudonymizer(keys)
        self.key_version = keys.active
        self._findings = dict(policy.findings)
        self._key_kinds: dict[Any, str | None] = {}
        # a kept field with a declared shape is checked against it (contract.py); one without
        # (a custom policy's, or what the SDK leaves to the sanitizer when it has no key)
        # stays as it is
        own = shapes(tag_kinds() | {"field"})
        self._shapes = {r.selector: own[r.selector] for r in policy.rules if r.selector in own}
        active = [
            r
            for r in policy.rules
            if r.treatment != "keep" or r.overrides or r.selector in self._shapes
        ]
        # plain record paths (most rules) are walked inline; arrays and maps through locate()
        plain = [r for r in active if r.container == "scalar" and "[]" not in r.segments]
        self._scalars = tuple(
            (r.segments[:-1], r.segments[-1], r.selector, r.treatment)
            for r in plain
            if r.treatment != "keep"
        )
        self._kept = tuple(
            (r.segments[:-1], r.segments[-1], r.selector, self._shapes[r.selector])
            for r in plain
            if r.treatment == "keep"
        )
        self._others = tuple(r for r in active if r.container != "scalar" or "[]" in r.segments)

    def _key_kind(self, key: Any) -> str | None:
        """``key_kind``, remembered: the same few map keys come in every event."""
        try:
            return self._key_kinds[key]
        except KeyError:
            pass
        except TypeError:  # not hashable: not a string key
            return None
        if len(self._key_kinds) >= _KEY_CACHE:
            self._key_kinds.clear()
        kind = self._key_kinds[key] = key_kind(key)
        return kind

    def scrub(self, datum: dict[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of ``datum`` (which is not modified)."""
        return self.scrub_owned(deep_copy(datum))

    def scrub_owned(self, datum: dict[str, Any]) -> dict[str, Any]:
        """Scrub ``datum`` in place and return it: for a caller that owns the datum and all
        it contains (the stage, on a record it just decoded), sparing the copy."""
        out = datum
        work = _Work()
        for parents, last, path, treatment in self._scalars:
            node, value = _leaf(out, parents, last)
            if value is not None:
                self._field(work, node, last, path, value, treatment, "scalar", path)
        texts, places = work.texts, work.places
        for parents, last, path, shape in self._kept:
            node, value = _leaf(out, parents, last)
            if value is None:
                continue
            state = shape.check(value)
            if state == MISFIT:
                self._misfit(work, node, last, path, shape)
            elif state == FITS:
                if shape.reject:
                    work.strict.add(len(texts))
                texts.append(value)
                places.append((node, last, path))
        for rule in self._others:
            if out.get(rule.segments[0]) is None:  # pipeline: null (as the sanitizer reads it)
                continue
            scan_keys = rule.container == "map" and rule.treatment != "keep"
            check_keys = rule.container == "map" and rule.treatment == "keep"
            for container, key, path in locate(out, rule.segments):
                value = container[key]
                if check_keys and (type(key) is not str or MAP_KEY.fullmatch(key) is None):
                    # a kept map's key is a lower-case word (pipeline.enrichment), else dropped
                    work.drops.append((container, key, "map"))
                    where = f"{rule.selector[:-2]}.{{key}}"
                    work.remarks.append(_remark(where, "invalid", "drop"))
                    continue
                if scan_keys and type(key) is str and key:
                    # a map key is free text too: scanned in the same pass, renamed after
                    holder = {"k": key}
                    work.keys.append((container, key, holder, path))
                    work.texts.append(key)
                    work.places.append((holder, "k", f"{path[: -len(key) - 1]}.{{key}}"))
                if type(value) is str and value:
                    treatment = rule.overrides.get(key, rule.treatment)
                    named = self._key_kind(key) if rule.container == "map" else None
                    if treatment == "detect" and named is not None:
                        # {"password": "hunter2"}: the key says what the value is
                        found = [Finding(0, len(value), named, 0)]
                        container[key] = self._treat(value, found, path, work.remarks)
                        continue
                    self._field(
                        work, container, key, path, value, treatment, rule.container, rule.selector
                    )
        if work.texts:
            self._detect(work.texts, work.places, work.remarks, work.strict)
        _drop(work.drops)
        renamed = [(c, k, h["k"], p) for c, k, h, p in work.keys if h["k"] != k and k in c]
        if renamed:
            _rename_keys(renamed, work.remarks)
        info = out.get("pipeline")
        if not isinstance(info, dict):
            info = {
                "received_ts": None,
                "processed_ts": None,
                "enrichment": {},
                "scrub": [],
                "key_version": None,
            }
            out["pipeline"] = info
        info["scrub"] = [*(info.get("scrub") or []), *work.remarks]
        info["key_version"] = self.key_version
        return out

    def _field(
        self,
        work: _Work,
        container: Any,
        key: Any,
        path: str,
        value: str,
        treatment: str,
        shape: str,
        selector: str,
    ) -> None:
        if treatment == "keep":
            declared = self._shapes.get(selector)
            if declared is not None:
                self._keep(work, container, key, path, value, declared)
            return
        if treatment == "detect":
            work.texts.append(value)
            work.places.append((container, key, path))
            return
        kind = "field"
        if treatment == "pseudonymize":
            if not (self.trust_pseudonyms and self.pseudonymize.is_pseudonym(value)):
                container[key] = self.pseudonymize(value)
        elif treatment == "truncate":
            truncated = truncate_ip(value)
            if truncated is None and loose_ipv4(value.strip()) is not None:
                # 3405803783, 0x7f.1, 203.000.113.007: an address in a form we don't truncate
                container[key] = redact("ipv4")
                work.remarks.append(_remark(path, "ipv4", "redact"))
                return
            if truncated is None:  # not an address: treat it as free text
                work.texts.append(value)
                work.places.append((container, key, path))
                return
            container[key] = truncated
            kind = "ipv6" if ":" in value else "ipv4"
        elif treatment == "redact":
            container[key] = redact("redacted")
        elif treatment == "mask":
            container[key] = mask(value, "masked")
        else:  # drop
            work.drops.append((container, key, shape))
        work.remarks.append(_remark(path, kind, treatment))

    def _keep(
        self, work: _Work, container: Any, key: Any, path: str, value: str, shape: Shape
    ) -> None:
        """A kept field: inside its shape it stays (scanned too, when the shape says so);
        outside it, the event is rejected (ids) or the value becomes ``[invalid]``."""
        if shape.fits(value):
            if shape.scan:
                if shape.reject:
                    work.strict.add(len(work.texts))
                work.texts.append(value)
                work.places.append((container, key, path))
            return
        self._misfit(work, container, key, path, shape)

    @staticmethod
    def _misfit(work: _Work, container: Any, key: Any, path: str, shape: Shape) -> None:
        if shape.reject:
            raise InvalidEventError(
                f"{path}: not {shape.what}; ids are never altered, so the event is rejected"
            )
        container[key] = redact("invalid")
        work.remarks.append(_remark(path, "invalid", "redact"))

    def _detect(
        self,
        texts: list[str],
        places: list[Place],
        remarks: list[dict[str, str]],
        strict: set[int] | None = None,
    ) -> None:
        scan, origins = _scanning_copies(texts)
        hits = self.scanner.scan(scan)
        if not hits:
            return
        by_text: dict[int, list[int]] = {}
        for ti, di in hits:
            if ti < len(texts):
                by_text.setdefault(ti, []).append(di)
        for ti in sorted(by_text):
            found = self._found(scan[ti], by_text[ti], origins.get(ti))
            if not found:
                continue
            container, key, path = places[ti]
            if strict and ti in strict:
                # digits alone (with separators) inside a longer id are not a reason to reject
                # it: random ids (a prefix + a UUID) pass card or national check digits by
                # chance (1 event in ~900 of ids like "e-<n>-<uuid>"), and ids are never
                # altered, so such events would be lost; an id that *is* such a number is
                text = texts[ti]
                signal = [
                    f
                    for f in found
                    if not _DIGITS.fullmatch(text[f.start : f.end])
                    or f.end - f.start >= len(text.strip())
                ]
                if signal:
                    raise InvalidEventError(
                        f"{path}: holds what the {signal[0].kind} detector finds; ids are never "
                        "altered, so the event is rejected"
                    )
                continue
            container[key] = self._treat(texts[ti], found, path, remarks)

    def _found(self, text: str, detectors: list[int], origin: list[int] | None) -> list[Finding]:
        """What the detectors find in the scanning copy ``text``, in original positions."""
        found: list[Finding] = []
        for di in detectors:
            found.extend(self.detectors[di].find(text))
        if origin is None or not found:
            return found
        out = []
        for f in found:
            start, end = span_back(origin, f.start, f.end)
            out.append(Finding(start, end, f.kind, f.priority))
        return out

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """The spans the detectors find in one free-text string, merged: ``(start, end,
        kind)`` (for the accuracy measurement and tools; never logged)."""
        scan, origins = _scanning_copies([text])
        hits = sorted(di for _, di in self.scanner.scan(scan))
        found = self._found(scan[0], hits, origins.get(0))
        return [(s, e, f.kind) for s, e, f, _ in resolve(found)]

    def treat_text(self, text: str) -> tuple[str, list[dict[str, str]]]:
        """Detect and treat one free-text string (for tests and tools)."""
        remarks: list[dict[str, str]] = []
        holder = {"v": text}
        self._detect([text], [(holder, "v", "text")], remarks)
        return holder["v"], remarks

    def _treat(
        self, text: str, found: Sequence[Finding], path: str, remarks: list[dict[str, str]]
    ) -> str:
        pieces: list[str] = []
        pos = 0
        for start, end, finding, exact in resolve(list(found)):
            kind = finding.kind
            treatment = self._findings[kind] if exact else "redact"
            value = text[start:end]
            if treatment == "mask":
                new = mask(value, kind)
            elif treatment == "truncate":
                truncated = truncate_ip(value)
                if truncated is None:  # a form we don't truncate (0x7f.1): redacted
                    new, treatment = redact(kind), "redact"
                else:
                    new = truncated
            elif treatment == "pseudonymize":
                trusted = self.trust_pseudonyms and self.pseudonymize.is_pseudonym(value)
                new = value if trusted else self.pseudonymize(value)
            else:
                new = redact(kind)
            pieces.append(text[pos:start])
            pieces.append(new)
            pos = end
            remarks.append(_remark(path, kind, treatment))
        pieces.append(text[pos:])
        return "".join(pieces)


def _leaf(out: dict[str, Any], parents: tuple[str, ...], last: str) -> tuple[Any, str | None]:
    """The record holding a plain path's leaf, and the leaf if it is a non-empty string."""
    node: Any = out
    for step in parents:
        node = node.get(step)
        if node is None:
            return None, None
    value = node.get(last)
    return node, value if type(value) is str and value else None


def _scanning_copies(texts: list[str]) -> tuple[list[str], dict[int, list[int]]]:
    """What the detectors read (``normalize.fold``), and the map back of each folded one."""
    origins: dict[int, list[int]] = {}
    scan = texts
    for i, text in enumerate(texts):
        if text.isascii():
            continue
        folded = fold(text)
        if folded is None:
            continue
        if scan is texts:
            scan = list(texts)
        scan[i], origins[i] = folded
    return scan, origins


def _drop(drops: list[Place]) -> None:
    """Remove map entries and array items (last index first); null optional scalars."""
    for container, key, shape in sorted(
        drops, key=lambda d: d[1] if isinstance(d[1], int) else -1, reverse=True
    ):
        if shape == "scalar":
            container[key] = None
        else:
            del container[key]


def _rename_keys(renamed: list[tuple[dict[Any, Any], str, str, str]], remarks: Remarks) -> None:
    """Rename map keys that held a finding to their treated form (``{"alice@example.com": x}``
    → ``{"[email]": x}``), order kept, a clash numbered (``[email]#2``); the remarks of their
    values named the raw key in the path, so those paths are renamed too."""
    by_map: dict[int, tuple[dict[Any, Any], dict[str, str]]] = {}
    for container, old, new, _path in renamed:
        by_map.setdefault(id(container), (container, {}))[1][old] = new
    final: dict[tuple[int, str], str] = {}
    for ident, (container, names) in by_map.items():
        items: dict[Any, Any] = {}
        for key, value in container.items():
            new = base = names.get(key, key)
            n = 1
            while new in items:
                n += 1
                new = f"{base}#{n}"
            items[new] = value
            final[(ident, key)] = new
        container.clear()
        container.update(items)
    fixes = {p: p[: -len(old)] + final[(id(c), old)] for c, old, _new, p in renamed}
    for remark in remarks:
        fixed = fixes.get(remark["field"])
        if fixed is not None:
            remark["field"] = fixed
