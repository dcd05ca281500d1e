"""The import rules of docs/architecture.md hold for every module of ``pipeline/``.

The table in the doc is the single source: each row names a package and the packages it may
import. A failure names the file, the line and the import that breaks a rule.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PKG = ROOT / "pipeline"
SUBDIVIDED = {"archive"}  # packages whose sub-packages have rows of their own
ANY = "*(any)*"


@dataclass(frozen=True)
class Import:
    file: str
    line: int
    module: str  # the imported module, dotted, starting with "pipeline" (or tests/benchmarks)


def rules() -> dict[str, set[str] | None]:
    """package -> the packages it may import (None: any), from the doc's table."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- import-rules")
    out: dict[str, set[str] | None] = {}
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if out:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("package", "---"):
            continue
        name = cells[0].strip("`")
        allowed = cells[2]
        out[name] = None if allowed == ANY else set(re.findall(r"`([a-z_.]+)`", allowed))
    return out


def package_of(module: str) -> str:
    """The table row a dotted module belongs to (``pipeline.archive.write.stream`` ->
    ``archive.write``; ``pipeline.settings`` -> ``settings``; ``pipeline`` -> ``pipeline``)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "pipeline"
    if parts[1] in SUBDIVIDED and len(parts) > 2:
        return f"{parts[1]}.{parts[2]}"
    return parts[1]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = str(path.relative_to(root))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(rel, node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pipeline.archive import format` imports the sub-package itself
            if node.module in ("pipeline", *(f"pipeline.{s}" for s in SUBDIVIDED)):
                found += [Import(rel, node.lineno, f"{node.module}.{a.name}") for a in node.names]
            else:
                found.append(Import(rel, node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append(Import(rel, node.lineno, "." * node.level + (node.module or "")))
    return found


def violations(root: Path = ROOT) -> list[str]:
    table = rules()
    out: list[str] = []
    for path in sorted((root / "pipeline").rglob("*.py")):
        src = package_of(module_name(path, root))
        if src == "pipeline" or src in SUBDIVIDED:
            continue  # the package roots hold only a version or a docstring
        allowed = table.get(src, set())
        if src not in table:
            out.append(f"{path.relative_to(root)}: package `{src}` has no row in {DOC.name}")
            continue
        for imp in imports_of(path, root):
            if imp.module.startswith("."):
                out.append(f"{imp.file}:{imp.line}: relative import {imp.module!r} (use absolute)")
                continue
            top = imp.module.split(".")[0]
            if top in ("tests", "benchmarks"):
                out.append(f"{imp.file}:{imp.line}: imports {imp.module} (a harness) at run time")
                continue
            if top != "pipeline" or allowed is None:
                continue
            target = package_of(imp.module)
            if target in (src, "pipeline"):
                continue
            if target not in allowed:
                out.append(
                    f"{imp.file}:{imp.line}: `{src}` imports {imp.module} (`{target}`), "
                    f"which {DOC.name} does not allow (`{src}` may import: "
                    f"{', '.join(sorted(allowed)) or 'nothing in pipeline'})"
                )
    return out


def test_every_package_keeps_the_import_rules() -> None:
    found = violations()
    assert not found, "import rules of docs/architecture.md broken:\n" + "\n".join(found)


def test_every_row_of_the_table_is_a_package() -> None:
    packages = {package_of(module_name(p)) for p in PKG.rglob("*.py")} - {"pipeline", *SUBDIVIDED}
    assert set(rules()) == packages, (
        f"rows without a package: {sorted(set(rules()) - packages)}; "
        f"packages without a row: {sorted(packages - set(rules()))}"
    )


def test_only_cli_imports_cli() -> None:
    table = rules()
    assert table["cli"] is None
    assert all("cli" not in (allowed or set()) for name, allowed in table.items() if name != "cli")


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from pipeline.archive.format import layout\n", "archive.format"),
        ("from pipeline.archive import write\n", "archive.write"),
        ("import pipeline.cli.main\n", "cli"),
        ("from pipeline import settings\n", "settings"),
    ],
)
def test_the_checker_resolves_every_import_form(tmp_path: Path, source: str, expected: str) -> None:
    # the checker must see each form, or a forbidden import could hide behind it
    root = _tree(tmp_path, {"pipeline/x.py": source})
    (imp,) = imports_of(root / "pipeline" / "x.py", root)
    assert package_of(imp.module) == expected


def test_a_forbidden_import_is_reported_with_file_and_line(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pipeline/archive/format/layout.py": "from pipeline.errors import ConfigError\n",
            "pipeline/archive/format/bad.py": (
                '"""x"""\n\nfrom pipeline.archive.verify import verify\n'
            ),
            "pipeline/events/ok.py": "from pipeline.errors import PipelineError\n",
            "pipeline/kafka/bad.py": "from tests.harness import detector_probe\n",
        },
    )
    assert violations(root) == [
        "pipeline/archive/format/bad.py:3: `archive.format` imports "
        "pipeline.archive.verify (`archive.verify`), which architecture.md does not allow "
        "(`archive.format` may import: errors, events, settings)",
        "pipeline/kafka/bad.py:1: imports tests.harness (a harness) at run time",
    ]
