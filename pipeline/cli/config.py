"""`auditpipe config show`: the effective settings, secrets masked, each with its source.

Sources: ``env`` (an ``AUDITPIPE_*`` variable), ``file`` (a secret read from the file a
``*_FILE`` variable names), ``profile default`` (the local profile's fallback to the local
development stack), ``default`` (the setting's built-in default). Under the production profile
an endpoint or credential without a value shows as ``MISSING`` (a worker would stop on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import typer
from pydantic import BaseModel, SecretStr

from pipeline.settings import ENV_PREFIX, Settings, load_settings

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)

MASK = "****"
MISSING = "MISSING"
#: settings that fall back to the local stack under the local profile (and have no default in
#: production); the value shown is the one the process would use
RESOLVED: dict[str, Callable[[Settings], Any]] = {
    "bootstrap_servers": lambda s: s.stack.bootstrap_servers,
    "schema_registry_url": lambda s: s.registry_url,
    "s3_endpoints": lambda s: s.s3_regions,
    "s3_access_key_id": lambda s: s.s3_credentials[0],
    "s3_secret_access_key": lambda s: s.s3_credentials[1],
    "kafka.security_protocol": lambda s: "PLAINTEXT",
}
#: secrets that may come from a file instead: (secret, the setting naming its file)
FROM_FILE = {"kafka.sasl_password": "kafka.sasl_password_file", "hmac_key": "hmac_key_file"}
_USERINFO = re.compile(r"(//)[^/@\s]+@")


def mask(value: Any) -> str:
    """A value as shown: secrets masked, credentials in URLs masked."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {mask(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(mask(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        return mask(value.model_dump())
    return _USERINFO.sub(r"\1" + MASK + "@", str(value))


def _walk(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """(dotted name, value, set explicitly) for every leaf setting."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        dotted = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _walk(value, f"{dotted}.")
        else:
            yield dotted, value, name in model.model_fields_set


def rows(settings: Settings) -> list[tuple[str, str, str]]:
    """(setting, shown value, source) for every setting."""
    out: list[tuple[str, str, str]] = []
    explicit = {name for name, _v, was_set in _walk(settings) if was_set}
    for name, value, was_set in _walk(settings):
        if name.startswith("stack.") and settings.production:
            continue  # the local stack plays no part in production
        source = "env" if was_set else "default"
        if not was_set and name in FROM_FILE and FROM_FILE[name] in explicit:
            out.append((name, MASK, f"file ({FROM_FILE[name]})"))
            continue
        if not was_set and name in RESOLVED:
            if settings.production:
                out.append((name, MISSING, "no default in production"))
                continue
            value, source = RESOLVED[name](settings), "profile default (local stack)"
        shown = "-" if value is None else mask(value)
        out.append((name, shown, source))
    return out


def env_name(dotted: str) -> str:
    return ENV_PREFIX + dotted.replace(".", "__").upper()


@app.command()
def show() -> None:
    """Print the effective settings: name, value (secrets masked) and where it came from."""
    settings = load_settings()
    table = rows(settings)
    width = max(len(env_name(n)) for n, _v, _s in table)
    value_width = min(60, max(len(v) for _n, v, _s in table))
    typer.echo(f"profile: {settings.profile}")
    for name, value, source in table:
        typer.echo(f"{env_name(name):<{width}}  {value:<{value_width}}  {source}")
