"""No code in ``pipeline/`` reads or overrides a private member (leading underscore) of faust,
mode, aiokafka or confluent-kafka (#17): an upstream change there would go unnoticed.

An AST scan, by rule:
- importing an underscore name from those packages, or reaching one through a module or class
  imported from them (``faust_kafka._x``, ``Consumer._x``);
- a class derived from one of their classes defining or touching an underscore member (an
  override, or a read of the base's internals through ``self``);
- ``obj._name`` on any object (not ``self``/``cls``) where ``_name`` is an underscore member
  those packages define (what the old faust stage did: ``consumer._fetch_max_wait_ms``).

Allowed: confluent-kafka's ``KafkaError._UPPER_CASE`` error codes (librdkafka's local errors,
documented public constants such as ``KafkaError._PARTITION_EOF``).
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LIBS = ("faust", "mode", "aiokafka", "confluent_kafka")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _allowed(base: ast.expr, attr: str) -> bool:
    """``KafkaError._PARTITION_EOF`` and its kin: documented error-code constants."""
    return isinstance(base, ast.Name) and base.id == "KafkaError" and attr.lstrip("_").isupper()


@cache
def library_private_names() -> frozenset[str]:
    """Every underscore member (method, attribute set on self) the libraries define."""
    names: set[str] = set()
    for lib in LIBS:
        spec = importlib.util.find_spec(lib)
        assert spec is not None, lib
        assert spec.submodule_search_locations, lib
        for folder in spec.submodule_search_locations:
            for path in Path(folder).rglob("*.py"):
                tree = ast.parse(path.read_bytes())
                for node in ast.walk(tree):
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        name = node.name
                    elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                        name = node.attr
                    else:
                        continue
                    if _private(name):
                        names.add(name)
    return frozenset(names)


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def violations(source: str, where: str = "<src>") -> list[str]:
    tree = ast.parse(source)
    private_names = library_private_names()
    bound: set[str] = set()  # names bound to a module or object of the libraries
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBS:
                    bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBS:
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{where}:{node.lineno}: imports {node.module}.{alias.name}")
                bound.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(_root(b) in bound for b in node.bases):
            for item in ast.walk(node):
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _private(item.name):
                    found.append(f"{where}:{item.lineno}: overrides {node.name}.{item.name}")
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if _allowed(node.value, node.attr):
                continue
            root = _root(node.value)
            if root in bound:
                found.append(f"{where}:{node.lineno}: reads {root}…{node.attr}")
            elif root not in ("self", "cls") and node.attr in private_names:
                found.append(f"{where}:{node.lineno}: reads ….{node.attr} (a library's)")
    return found


def test_the_checker_catches_what_the_faust_stage_did() -> None:
    old = """
from faust.transport.drivers import aiokafka as faust_kafka
from confluent_kafka import KafkaError

class _ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = 50
        return consumer

def f(table, err):
    table.data["k"] = 1
    table.send_changelog(0, "k", None)
    return err.code() == KafkaError._PARTITION_EOF
"""
    got = violations(old)
    assert any("overrides _ConsumerThread._create_worker_consumer" in v for v in got)
    assert any("_fetch_max_wait_ms" in v for v in got)
    assert not any("_PARTITION_EOF" in v for v in got)


def test_pipeline_reads_or_overrides_no_private_member_of_the_kafka_libraries() -> None:
    found = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        found += violations(path.read_text(), str(path.relative_to(ROOT)))
    assert found == []
