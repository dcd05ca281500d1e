"""Redaction markers cannot be forged (issue 16): text that looks like our own tag is input
like any other, so a secret written in brackets or quotes is found and treated. Only a value
that is exactly a tag of a known kind (``[secret]``) holds nothing and stays."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import Cli
from tests.hostile.scrub_cases import COMMANDS, event, scrubbed

SECRET = "hunter2SENTINELx9"
AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSENTINELKEY"
CASES = [
    f"password=[{SECRET}]",
    f'password = "[{SECRET}]"',
    f"token=[{SECRET}]",
    f"postgres://[admin:{SECRET}]@db",
    f"postgres://admin:[{SECRET}]@db/x",
    f"aws_secret_access_key=[{AWS}]",
    f"AWS Secret Access Key: {AWS}",
    f"AWS Secret Access Key {AWS}",
    f"password=[secret:{SECRET}]",
    f"password=[card:…{SECRET}]",
    f"api_key='[{SECRET}]'",
    f"<password>[{SECRET}]</password>",
    f"Authorization: Bearer [{SECRET}]",
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text", CASES)
def test_bracketed_and_quoted_secrets_are_treated(cli: Cli, command: str, text: str) -> None:
    out = scrubbed(cli, command, event(details={"note": text}), [SECRET, AWS, SECRET[:7]])
    assert out["pipeline"]["scrub"], "a remark names what was treated"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_tag_of_a_known_kind_stays(cli: Cli, command: str) -> None:
    out = scrubbed(cli, command, event(details={"note": "password=[secret] ok=***"}), [])
    assert out["details"]["note"] == "password=[secret] ok=***"
