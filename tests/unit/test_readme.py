"""The README's SDK example is real code: it compiles, uses only names that exist, and stays
under ten lines (it runs for real in tests/integration/test_readme_example.py)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def sdk_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    return str(blocks[0])


def test_sdk_example_is_short_and_compiles() -> None:
    code = sdk_example()
    assert len([ln for ln in code.splitlines() if ln.strip()]) < 10
    compile(code, "README.md", "exec")


def test_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text
