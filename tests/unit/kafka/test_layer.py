"""Only the client layer builds confluent-kafka clients: no other module of the package, the
tests or the benchmarks calls ``Consumer(``, ``Producer(`` or ``AdminClient(`` of
confluent-kafka (imported by name, as a module attribute, or as a base class)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLASSES = {"Consumer", "Producer", "AdminClient"}
LAYER = ROOT / "pipeline" / "kafka" / "clients.py"


def _constructions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local: set[str] = set()  # names bound to confluent-kafka's classes in this module
    modules: set[str] = set()  # names bound to the confluent_kafka package (or .admin)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("confluent_kafka"):
            local |= {a.asname or a.name for a in node.names if a.name in CLASSES}
        if isinstance(node, ast.Import):
            modules |= {
                a.asname or a.name for a in node.names if a.name.startswith("confluent_kafka")
            }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        direct = isinstance(f, ast.Name) and f.id in local
        dotted = (
            isinstance(f, ast.Attribute)
            and f.attr in CLASSES
            and isinstance(f.value, (ast.Name, ast.Attribute))
            and ast.unparse(f.value) in modules | {"confluent_kafka", "confluent_kafka.admin"}
        )
        if direct or dotted:
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            found.append(f"{where}:{node.lineno}: {ast.unparse(f)}(")
    return found


def test_only_the_client_layer_builds_kafka_clients() -> None:
    files = [
        p
        for d in ("pipeline", "tests", "benchmarks")
        for p in sorted((ROOT / d).rglob("*.py"))
        if p != LAYER
    ]
    offenders = [hit for p in files for hit in _constructions(p)]
    assert offenders == [], "build clients with pipeline.kafka.clients:\n" + "\n".join(offenders)


def test_the_check_sees_a_construction(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import confluent_kafka\nfrom confluent_kafka import Consumer as C\n"
        "C({})\nconfluent_kafka.Producer({})\n"
    )
    assert len(_constructions(sample)) == 2
