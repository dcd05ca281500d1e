"""deploy/Dockerfile without a Docker daemon: what it copies exists and reaches the build context.

The install steps themselves run in a clean venv in CI (``deploy/check-install.sh``).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def context_copies(text: str) -> list[str]:
    """Sources of every COPY/ADD from the build context (not ``--from=`` another stage)."""
    sources: list[str] = []
    for word, args in instructions(text):
        if word not in {"COPY", "ADD"}:
            continue
        parts = shlex.split(args)
        flags = [p for p in parts if p.startswith("--")]
        paths = [p for p in parts if not p.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        sources.extend(paths[:-1])
    return sources


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip("/")
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def excluded(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        rx = _pattern_regex(pattern[1:] if negate else pattern)
        if any(rx.fullmatch(c) for c in candidates):
            result = not negate
    return result


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def tracked(path: str) -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [ln for ln in result.stdout.splitlines() if ln]


def test_instructions_join_continuations() -> None:
    text = "FROM x AS b\n# c\nRUN a \\\n  && b\nCOPY --from=b /x /y\nCOPY a/ b c/\n"
    assert instructions(text) == [
        ("FROM", "x AS b"),
        ("RUN", "a  && b"),
        ("COPY", "--from=b /x /y"),
        ("COPY", "a/ b c/"),
    ]
    assert context_copies(text) == ["a/", "b"]


def test_dockerignore_matching_follows_docker() -> None:
    patterns = ["**", "!pipeline/", "**/__pycache__/", "!keep.txt"]
    assert excluded("README.md", patterns)
    assert not excluded("pipeline/a/b.py", patterns)
    assert excluded("pipeline/a/__pycache__/b.pyc", patterns)
    assert not excluded("keep.txt", patterns)


def test_every_copied_path_exists_and_is_in_the_context() -> None:
    sources = context_copies(DOCKERFILE.read_text())
    assert sources, "the Dockerfile copies nothing from the context"
    patterns = dockerignore()
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: not in the repo"
        files = tracked(src.rstrip("/"))
        assert files, f"COPY {src}: no tracked files"
        kept = [f for f in files if not excluded(f, patterns)]
        dropped = [f for f in files if excluded(f, patterns)]
        assert not dropped, f"COPY {src}: .dockerignore drops {dropped[:5]}"
        assert kept


def test_context_holds_nothing_the_image_does_not_copy() -> None:
    """A small context: secrets, .stack/ and tests never reach the daemon."""
    sources = [s.rstrip("/") for s in context_copies(DOCKERFILE.read_text())]
    patterns = dockerignore()
    for f in tracked("."):
        if not excluded(f, patterns):
            assert any(f == s or f.startswith(s + "/") for s in sources), f


@pytest.mark.parametrize("path", [".stack/keys/hmac.key", ".venv/bin/python", "tests/x.py"])
def test_local_state_is_outside_the_context(path: str) -> None:
    assert excluded(path, dockerignore())


def test_runtime_is_non_root_with_auditpipe_entrypoint() -> None:
    steps = instructions(DOCKERFILE.read_text())
    stages = [i for i, (w, _) in enumerate(steps) if w == "FROM"]
    runtime = steps[stages[-1] :]
    users = [a for w, a in runtime if w == "USER"]
    assert users, "the runtime stage sets no USER"
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert users[-1].split(":")[0].isdigit(), "numeric uid, so runAsNonRoot can check it"
    entry = [a for w, a in runtime if w == "ENTRYPOINT"]
    cmd = [a for w, a in runtime if w == "CMD"]
    assert entry == ['["auditpipe"]']
    assert cmd
    assert cmd[-1].startswith('["run", ')
    assert not any(w == "RUN" and "cargo" in a for w, a in runtime), "no compiler in the runtime"


def test_install_script_is_the_one_the_check_runs() -> None:
    text = DOCKERFILE.read_text()
    assert "deploy/install.sh" in text
    check = (ROOT / "deploy" / "check-install.sh").read_text()
    assert "app/deploy/install.sh" in check
