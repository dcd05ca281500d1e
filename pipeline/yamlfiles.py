"""YAML rule and policy files: loading with line numbers of their keys, so errors say where
(detection rules, the scrub policy, routing, retention classes).

Loading is strict (issue 16), so a file means exactly one thing: a key given twice in one
mapping is an error (``actor.id: pseudonymize`` then ``actor.id: keep`` must not quietly keep
the second), aliases (``*name``) and merge keys (``<<``) are refused (no alias bombs, no
recursive documents, no hidden overrides), nesting is bounded, and a file that is not UTF-8 gets
a clear error. ``index_documents`` applies these rules to every caller that indexes its text.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import yaml

from pipeline.errors import RuleError

Path = tuple[str | int, ...]

MAX_DEPTH = 64  # nesting of mappings and sequences
# libyaml when present: the pure-Python scanner is quadratic in flow nesting ("[[[[…")
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


class StrictYAMLError(yaml.MarkedYAMLError):
    """The file breaks one of the strict rules (a yaml.YAMLError, with the line)."""


def _strict_error(problem: str, node: yaml.Node) -> StrictYAMLError:
    return StrictYAMLError(problem=problem, problem_mark=node.start_mark)


def check_strict(root: yaml.Node) -> None:
    """Refuse what a composed document must not hold: a node reached twice (an alias: a bomb
    or a recursive document), a merge key, a duplicate key, nesting over MAX_DEPTH levels.
    Iterative, and it stops at the first shared node, so it is linear in the text."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise _strict_error(
                "aliases (*name) are not allowed: write the value out (the anchored value "
                f"starts on line {node.start_mark.line + 1})",
                node,
            )
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _strict_error(f"nested deeper than {MAX_DEPTH} levels", node)
        if isinstance(node, yaml.MappingNode):
            keys: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    raise _strict_error("merge keys (<<) are not allowed: write the keys out", key)
                if not isinstance(key, yaml.ScalarNode):
                    raise _strict_error("a mapping key must be a plain value", key)
                ident = (key.tag, key.value)
                if ident in keys:
                    raise _strict_error(
                        f"duplicate key {key.value[:60]!r} (first on line {keys[ident]}): "
                        "a key may appear once in a mapping",
                        key,
                    )
                keys[ident] = key.start_mark.line + 1
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def compose_all(text: str) -> list[yaml.Node]:
    """Every document of ``text`` as checked nodes (yaml.YAMLError on any strict rule)."""
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=_LOADER) if n is not None]
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None
    for node in nodes:
        check_strict(node)
    return nodes


def read_text(path: pathlib.Path, what: str) -> str:
    """The UTF-8 text of ``path``; RuleError naming the file otherwise (missing, a directory,
    unreadable, not UTF-8)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RuleError(f"{what} not found", file=path) from None
    except IsADirectoryError:
        raise RuleError(f"{what} is a directory, not a file", file=path) from None
    except OSError as exc:
        raise RuleError(f"cannot read {what}: {exc.strerror}", file=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RuleError(
            f"{what} is not UTF-8 text (byte {exc.start})", file=path, line=line
        ) from None


def safe_load(text: str) -> Any:
    """One YAML document under the strict rules (yaml.YAMLError otherwise)."""
    compose_all(text)
    return yaml.safe_load(text)


def safe_load_all(text: str) -> list[Any]:
    """Every YAML document of ``text`` under the strict rules (yaml.YAMLError otherwise)."""
    compose_all(text)
    return list(yaml.safe_load_all(text))


class LineIndex:
    """Where each key path of one YAML document starts (1-based lines)."""

    def __init__(self, start: int, lines: dict[Path, int], values: dict[Path, str]) -> None:
        self.start = start
        self.lines = lines
        self.values = values

    def line(self, *path: str | int) -> int:
        """The line of ``path``, or of its longest existing prefix, or of the document."""
        parts: Path = tuple(path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.start

    def find_key(self, under: Path, test: str) -> int | None:
        """Line of the first key below ``under`` whose text contains ``test``."""
        n = len(under)
        for path, line in self.lines.items():
            last = path[-1] if path else None
            if path[:n] == under and isinstance(last, str) and test in last:
                return line
        return None

    def find_value(self, under: Path, test: str) -> int | None:
        """Line of the first scalar value below ``under`` whose text contains ``test``."""
        n = len(under)
        for path, text in self.values.items():
            if path[:n] == under and test in text:
                return self.lines[path]
        return None

    def paths(self) -> Iterator[Path]:
        return iter(self.lines)


def _walk(node: yaml.Node, path: Path, out: dict[Path, int], values: dict[Path, str]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            out[sub] = key.start_mark.line + 1
            _walk(value, sub, out, values)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, i)
            out[sub] = item.start_mark.line + 1
            _walk(item, sub, out, values)
    elif isinstance(node, yaml.ScalarNode) and path:
        values[path] = str(node.value)


def index_documents(text: str) -> list[LineIndex]:
    """One LineIndex per document of ``text`` (raises yaml.YAMLError like safe_load_all)."""
    out = []
    for node in compose_all(text):  # strict: nodes form a tree, so the walk is linear
        lines: dict[Path, int] = {}
        values: dict[Path, str] = {}
        _walk(node, (), lines, values)
        out.append(LineIndex(node.start_mark.line + 1, lines, values))
    return out


def load_mapping(path: pathlib.Path, what: str, keys: str) -> tuple[dict[str, Any], LineIndex]:
    """One YAML mapping from ``path`` and its line index; RuleError (file, line) otherwise.

    ``what`` names the file in errors ("routing file"), ``keys`` its expected top-level keys.
    """
    text = read_text(path, what)
    try:
        docs = index_documents(text)
        doc = safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise RuleError(f"invalid YAML: {exc}", file=path, line=line) from None
    if len(docs) != 1 or not isinstance(doc, dict):
        raise RuleError(f"expected one YAML mapping ({keys})", file=path, line=1)
    return doc, docs[0]
