"""YAML rule and policy files: loading with line numbers of their keys, so errors say where
(detection rules, the scrub policy, routing, retention classes)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import yaml

from pipeline.errors import RuleError

Path = tuple[str | int, ...]


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
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        lines: dict[Path, int] = {}
        values: dict[Path, str] = {}
        if node is not None:
            _walk(node, (), lines, values)
            out.append(LineIndex(node.start_mark.line + 1, lines, values))
    return out


def load_mapping(path: pathlib.Path, what: str, keys: str) -> tuple[dict[str, Any], LineIndex]:
    """One YAML mapping from ``path`` and its line index; RuleError (file, line) otherwise.

    ``what`` names the file in errors ("routing file"), ``keys`` its expected top-level keys.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RuleError(f"{what} not found", file=path) from None
    try:
        docs = index_documents(text)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise RuleError(f"invalid YAML: {exc}", file=path, line=line) from None
    if len(docs) != 1 or not isinstance(doc, dict):
        raise RuleError(f"expected one YAML mapping ({keys})", file=path, line=1)
    return doc, docs[0]
