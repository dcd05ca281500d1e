"""The input contract of kept fields (issue 16, pipeline/scrub/contract.py), through the offline
commands: a personal value in a field the policy keeps never comes out; an id outside its
shape (or holding a finding) rejects the line (exit 3, the reason names the field, never the
value); a ``ps:`` value from the input is pseudonymized again; a producer's ``pipeline``
block is checked and scanned like the rest."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pipeline.cli.safe import EXIT_REJECTED
from tests.hostile.conftest import Cli
from tests.hostile.scrub_cases import COMMANDS, event, run, scrubbed

EMAIL = "sentinel.kept@example.org"
CARD = "4111111111111111"
CARD_SPACED = "4111 1111 1111 1111"


def _set(doc: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return doc


PARENTS = {
    "http": {"method": "GET", "path": "/x"},
    "data": {},
    "actor": {"id": "u-42", "type": "user"},
}
KEPT = [
    "service",
    "environment",
    "action",
    "actor.type",
    "actor.country",
    "http.method",
    "data.classification",
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("field", KEPT)
@pytest.mark.parametrize("value", [EMAIL, CARD, CARD_SPACED, f"a{CARD}", f"x-{EMAIL}"])
def test_personal_data_in_a_kept_field_never_comes_out(
    cli: Cli, command: str, field: str, value: str
) -> None:
    doc = event(**{k: dict(v) for k, v in PARENTS.items()})
    _set(doc, field, value)
    scrubbed(cli, command, doc, [EMAIL, CARD, CARD_SPACED, "4111 1111"])


@pytest.mark.parametrize("command", COMMANDS)
def test_a_value_outside_its_shape_becomes_invalid(cli: Cli, command: str) -> None:
    doc = event(
        service="Alice Smith's laptop", actor={"id": "u", "type": "user", "country": "Germany"}
    )
    out = scrubbed(cli, command, doc, ["Alice Smith", "Germany"])
    assert out["service"] == "[invalid]"
    assert out["actor"]["country"] == "[invalid]"
    assert {"field": "service", "kind": "invalid", "treatment": "redact"} in out["pipeline"][
        "scrub"
    ]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_id", EMAIL),
        ("event_id", CARD),
        ("request_id", f"req {CARD_SPACED}"),
        ("trace_id", EMAIL),
        ("span_id", "not-hex-" + CARD),
    ],
)
def test_an_id_outside_its_shape_rejects_the_line(
    cli: Cli, command: str, field: str, value: str
) -> None:
    r = run(cli, command, event(**{field: value}), event()).check(
        EXIT_REJECTED, sentinels=[EMAIL, CARD, CARD_SPACED]
    )
    assert f"line 1: rejected: {field}:" in r.err
    assert len(r.out.splitlines()) == 1  # the good line went through


@pytest.mark.parametrize("command", COMMANDS)
def test_duplicate_json_keys_are_rejected(cli: Cli, command: str) -> None:
    line = b'{"service": "%s", "service": "billing-api", ' % EMAIL.encode()
    good = event()
    good.pop("service")

    line += orjson.dumps(good)[1:]
    r = run(cli, command, line).check(EXIT_REJECTED, sentinels=[EMAIL])
    assert "a key appears twice" in r.err


@pytest.mark.parametrize("command", COMMANDS)
def test_a_forged_pseudonym_is_pseudonymized_again(cli: Cli, command: str) -> None:
    first = scrubbed(cli, command, event(actor={"id": "victim@example.org", "type": "user"}), [])
    victim = first["actor"]["id"]
    assert victim.startswith("ps:dev:")
    forged = scrubbed(cli, command, event(actor={"id": victim, "type": "user"}), [])
    assert forged["actor"]["id"].startswith("ps:dev:")
    assert forged["actor"]["id"] != victim


def test_a_producers_pipeline_block_is_checked_and_scanned(cli: Cli) -> None:
    block = {
        "enrichment": {"team": EMAIL, f"owner {EMAIL}": "x", "tier": f"a{CARD}"},
        "scrub": [{"field": f"details.{EMAIL}", "kind": EMAIL, "treatment": CARD}],
        "key_version": EMAIL,
    }
    out = scrubbed(cli, "scrub", event(pipeline=block), [EMAIL, CARD])
    assert out["pipeline"]["key_version"] == "dev"
    # sanitize drops it altogether (the sanitizer's block, never a producer's)
    out = scrubbed(cli, "sanitize", event(pipeline=block), [EMAIL, CARD])
    assert (
        "team" not in out["pipeline"]["enrichment"]
        or out["pipeline"]["enrichment"]["team"] != EMAIL
    )
