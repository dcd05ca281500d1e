"""Config loading is strict (issue 16): duplicate YAML keys, aliases (a 1 KB alias bomb, a
recursive alias), deep nesting and non-UTF-8 files are clean errors, fast; ``|re`` runs on RE2,
so a catastrophic pattern costs linear time, and a pattern RE2 cannot run is a lint error."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipeline.cli.safe import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from tests.hostile.conftest import Cli

REPO = Path(__file__).resolve().parents[2]
POLICY = (REPO / "rules" / "scrub.yaml").read_text()
SENTINEL_EMAIL = "sentinel.person@example.org"
EVENT = orjson.dumps(
    {
        "ts": "2026-11-01T10:00:00Z",
        "service": "billing",
        "action": "invoice.view",
        "category": "DATA_ACCESS",
        "actor": {"type": "user", "id": SENTINEL_EMAIL},
    }
)


def _bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def test_a_duplicate_key_in_the_scrub_policy_fails(cli: Cli, tmp_path: Path) -> None:
    assert "  actor.id: pseudonymize\n" in POLICY
    policy = tmp_path / "scrub.yaml"
    policy.write_text(
        POLICY.replace("  actor.id: pseudonymize\n", "  actor.id: pseudonymize\n  actor.id: keep\n")
    )
    r = cli("scrub", "--policy", str(policy), "--dev-key", stdin=EVENT + b"\n")
    r.check(EXIT_UNUSABLE, sentinels=[SENTINEL_EMAIL])
    assert "duplicate key 'actor.id'" in r.err
    assert r.out == ""


@pytest.mark.parametrize(
    "text",
    [
        _bomb(),  # under 1 KB; 9**10 strings when expanded
        "version: 1\nfields: &f\n  x: *f\n",  # recursive
        "version: 1\nbase: &b {actor.id: keep}\nfields:\n  <<: *b\n",  # merge key
        "version: 1\nfields:\n  <<: {actor.id: keep}\n",  # merge key without an alias
        "version: 1\nfields: " + "[" * 200 + "]" * 200 + "\n",  # deep nesting
    ],
    ids=["alias-bomb", "recursive-alias", "merge-alias", "merge-inline", "deep"],
)
def test_aliases_merges_and_deep_nesting_are_refused_fast(
    cli: Cli, tmp_path: Path, text: str
) -> None:
    assert len(text.encode()) < 11_000
    policy = tmp_path / "scrub.yaml"
    policy.write_text(text)
    cli("scrub", "--policy", str(policy), "--dev-key", stdin=EVENT).check(
        EXIT_UNUSABLE, sentinels=[SENTINEL_EMAIL], bound_s=5
    )
    rule = tmp_path / "rule.yml"
    rule.write_text(text)
    r = cli("rules", "lint", str(rule)).check(EXIT_FAILED, bound_s=5)
    assert str(rule) in r.out
    cli("detect", "--rules", str(rule), stdin=EVENT).check(EXIT_UNUSABLE, bound_s=5)
    routing = tmp_path / "routing.yaml"
    routing.write_text(text)
    cli("route", "--dry-run", "--config", str(routing), stdin=b"").check(EXIT_UNUSABLE, bound_s=5)


def test_very_deep_flow_nesting_is_refused_fast(cli: Cli, tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("route: " + "[" * 50_000 + "]" * 50_000 + "\n")
    cli("route", "--dry-run", "--config", str(routing), stdin=b"").check(EXIT_UNUSABLE, bound_s=2)


def test_a_duplicate_key_in_routing_and_rules_fails(cli: Cli, tmp_path: Path) -> None:
    routing_src = (REPO / "rules" / "routing.yaml").read_text()
    routing = tmp_path / "routing.yaml"
    routing.write_text(routing_src + "\nroute: {receiver: nobody}\n")
    r = cli("route", "--dry-run", "--config", str(routing), stdin=b"").check(EXIT_UNUSABLE)
    assert "duplicate key 'route'" in r.err
    rule_src = (REPO / "rules" / "detection" / "admin.role_grant.yml").read_text()
    rule = tmp_path / "rule.yml"
    rule.write_text(rule_src.replace("level: high\n", "level: high\nlevel: low\n"))
    r = cli("rules", "lint", str(rule)).check(EXIT_FAILED)
    assert "duplicate key 'level'" in r.out


@pytest.mark.parametrize("what", ["policy", "keys", "rules", "routing", "catalog"])
@pytest.mark.parametrize("content", [b"version: 1\n\xff\xfe: keep\n", None], ids=["latin", "dir"])
def test_non_utf8_files_and_directories_are_clean_errors(
    cli: Cli, tmp_path: Path, what: str, content: bytes | None
) -> None:
    path = tmp_path / "f.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
        path.chmod(0o600)
    args = {
        "policy": ["scrub", "--policy", str(path), "--dev-key"],
        "keys": ["scrub", "--keys", str(path)],
        "rules": ["detect", "--rules", str(path)],
        "routing": ["route", "--dry-run", "--config", str(path)],
        "catalog": ["enrich", "--catalog", str(path)],
    }[what]
    r = cli(*args, stdin=EVENT).check(EXIT_UNUSABLE, sentinels=["\xff"])
    assert "error" in r.err


RE_RULE = """title: catastrophic regex
name: test.catastrophic
id: 0b5e7a4c-3c2f-4f5e-9d0e-2f1a6f0c9a11
status: test
level: low
logsource: {product: auditpipe}
detection:
  sel:
    action|re: '%s'
  condition: sel
auditpipe:
  group-by: [actor.id]
  window: 1h
  examples:
    - {name: match, alerts: 1, events: [{category: ADMIN, action: aaaa}]}
    - {name: no match, alerts: 0, events: [{category: ADMIN, action: b}]}
"""


def test_catastrophic_re_is_linear(cli: Cli, tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(RE_RULE % "(a+)+$")
    cli("rules", "lint", str(rule)).check(EXIT_OK)
    event = orjson.loads(EVENT)
    event["action"] = "a" * 100_000 + "!"
    lines = b"\n".join(orjson.dumps(event) for _ in range(20)) + b"\n"
    cli("detect", "--rules", str(rule), stdin=lines).check(EXIT_OK, bound_s=5)


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(?<!x)y"])
def test_re_that_re2_cannot_run_is_a_lint_error(cli: Cli, tmp_path: Path, pattern: str) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(RE_RULE % pattern)
    r = cli("rules", "lint", str(rule)).check(EXIT_FAILED)
    # pySigma's own check (it compiles with RE2 when installed) or ours; both say why
    assert "RE2 cannot run this pattern" in r.out or "is invalid" in r.out
