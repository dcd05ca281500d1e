"""`auditpipe scrub`: scrub JSON Lines events offline, stdin to stdout, with the same policy
and keys as the sanitizer stage.

    auditpipe scrub [--policy rules/scrub.yaml] --keys scrub.keys < events.jsonl > out.jsonl
    AUDITPIPE_HMAC_KEY=<64 hex> auditpipe scrub < events.jsonl > out.jsonl

The key comes from the same places as the stage's: ``--keys FILE``, else the settings
(``AUDITPIPE_HMAC_KEY_FILE``, or ``AUDITPIPE_HMAC_KEY`` with ``AUDITPIPE_HMAC_KEY_VERSION``),
else ``--dev-key`` when asked for.

One output line per valid input line, in order. An invalid line is reported on stderr with
its number and the reason (never its content) and skipped; the exit code is 0 when every
line was scrubbed, 3 when some were rejected, 2 when the policy or keys are unusable
(the contract is in pipeline/cli/jsonl.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from pipeline.cli.jsonl import console, finish, run_lines, unusable
from pipeline.errors import ConfigError, RuleError
from pipeline.sanitizer.build import scrub_keys as settings_keys
from pipeline.scrub import Scrubber, ScrubKeys, dev_keys, load_keys_from_file, load_policy
from pipeline.settings import load_settings

NO_KEYS = (
    "no pseudonym key: pass --keys FILE (lines 'active = k1' and 'k1 = hex:<64 hex digits>', "
    "mode 0600; see pipeline/scrub/keys.py), or set AUDITPIPE_HMAC_KEY (64+ hex characters) "
    "or AUDITPIPE_HMAC_KEY_FILE as for the sanitizer stage, or pass --dev-key for a "
    "development key that protects nothing"
)

POLICY_OPTION: Any = typer.Option(
    None, "--policy", "-p", help="scrub policy (YAML) (default: rules/scrub.yaml)"
)
KEYS_OPTION: Any = typer.Option(
    None, "--keys", "-k", help="pseudonym key file (see pipeline/scrub/keys.py)"
)
DEV_KEY_OPTION: Any = typer.Option(
    False, "--dev-key", help="use a fixed development key (version 'dev'); protects nothing"
)


def scrub_keys(keys: Path | None, dev_key: bool) -> ScrubKeys:
    """The pseudonym keys: the command line's file, else the stage's settings
    (AUDITPIPE_HMAC_KEY_FILE / AUDITPIPE_HMAC_KEY), else the development key if asked for."""
    if keys is not None and dev_key:
        raise ConfigError("give either --keys or --dev-key, not both")
    if keys is not None:
        return load_keys_from_file(keys)
    settings = load_settings()
    if settings.hmac_key_file is not None or settings.hmac_key is not None:
        if dev_key:
            raise ConfigError(
                "--dev-key given, but AUDITPIPE_HMAC_KEY(_FILE) is set: unset it or drop --dev-key"
            )
        return settings_keys(settings)
    if dev_key:
        console.print(
            "[yellow]warning:[/] using the DEVELOPMENT key (pseudonyms 'ps:dev:…' are "
            "reproducible by anyone; never use it for real data)",
            highlight=False,
        )
        return dev_keys()
    raise ConfigError(NO_KEYS)


def build_scrubber(policy: Path | None, keys: Path | None, dev_key: bool) -> Scrubber:
    return Scrubber(load_policy(policy), scrub_keys(keys, dev_key))


def scrub(
    policy: Path | None = POLICY_OPTION,
    keys: Path | None = KEYS_OPTION,
    dev_key: bool = DEV_KEY_OPTION,
) -> None:
    """Scrub audit events (JSON Lines on stdin) with the sanitizer's policy; write to stdout."""
    try:
        scrubber = build_scrubber(policy, keys, dev_key)
    except (ConfigError, RuleError) as exc:
        raise unusable(exc) from None
    finish("scrubbed", *run_lines(scrubber.scrub, sys.stdin.buffer, sys.stdout.buffer))
