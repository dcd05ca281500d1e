"""`auditpipe validate`: compile every config, schema, policy and rule file up front.

Like ``vector validate``: each check loads and compiles its files exactly as the stages do at
start-up, so an unknown key, rule, treatment or selector fails here, with file and line, and
not in production.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.archive.lifecycle.retention import load_retention
from pipeline.cli.safe import clean
from pipeline.detect.loader import load_rules
from pipeline.enrich.catalog import load_catalog
from pipeline.errors import ConfigError, PipelineError
from pipeline.events.schemas import parsed_schema, schema_files
from pipeline.kafka import acls, topics
from pipeline.route.config import load_routing
from pipeline.scrub.config import load_policy
from pipeline.settings import Settings, load_settings

Check = Callable[[Settings], str]


def _schemas(_: Settings) -> str:
    files = schema_files()
    for path in files:
        parsed_schema(path.stem)
    return f"{len(files)} Avro schemas"


def _catalog(settings: Settings) -> str:
    catalog = load_catalog(settings.rules_dir / "services.yaml")
    return f"{len(catalog.services)} services in the catalog"


def _detection(settings: Settings) -> str:
    ruleset = load_rules(settings.rules_dir / "detection")
    return f"{len(ruleset.all_rules())} detection rules"


def _routing(settings: Settings) -> str:
    config = load_routing(settings.rules_dir / "routing.yaml")
    return f"routing tree with {len(config.receivers)} receivers"


def _scrub_policy(settings: Settings) -> str:
    policy = load_policy(settings.rules_dir / "scrub.yaml")
    return f"scrub policy with {len(policy.rules)} field rules, engine {policy.engine}"


def _retention(settings: Settings) -> str:
    retention = load_retention(settings.rules_dir / "retention.yaml")
    classes = ", ".join(f"{n} {c.parsed}" for n, c in retention.policy.classes.items())
    return f"{len(retention.policy.classes)} retention classes ({classes})"


def _topic_table(settings: Settings) -> str:
    table = topics.table_for(settings)
    raw = table.topics.raw.retention or 0
    return f"{len(topics.NAMED_ROLES) + 1} topic roles, raw topics kept {raw // 3_600_000} h"


ACL_FILE = Path("deploy/kafka/acls.yaml")


def acl_check(path: Path) -> Check:
    """The check of an ACL file (``auditpipe acl apply`` loads it the same way): its model, the
    entries it compiles to, and a break-glass principal that is declared and has no standing
    grant."""

    def check(_: Settings) -> str:
        loaded = acls.load_file(path)
        entries = acls.desired(loaded)
        glass = acls.break_glass_entries(loaded)
        bg = loaded.break_glass.principal
        if bg not in loaded.principals:
            raise ConfigError(f"{path}: break_glass.principal {bg!r} is not under principals")
        if not glass:
            raise ConfigError(f"{path}: break_glass.grants is empty")
        supers = sorted(n for n, p in loaded.principals.items() if p.super_user)
        return (
            f"{len(loaded.principals)} principals, {len(entries)} ACL entries, "
            f"{len(glass)} break-glass grants, super users: {', '.join(supers) or 'none'}"
        )

    return check


def _no_acl_file(_: Settings) -> str:
    return f"not checked: no {ACL_FILE} here (an image ships without deploy/; --acls FILE)"


def checks(acl_file: Path | None = ACL_FILE) -> list[tuple[str, Check]]:
    """The registry of checks: name → function raising PipelineError on a problem. The ACL file
    is checked when given, or when the default one exists (a repository checkout)."""
    if acl_file is None:
        acl_file = ACL_FILE if ACL_FILE.exists() else None
    return [
        ("schemas", _schemas),
        ("service catalog", _catalog),
        ("scrub policy", _scrub_policy),
        ("detection rules", _detection),
        ("alert routing", _routing),
        ("retention classes", _retention),
        ("topic table", _topic_table),
        ("Kafka ACLs", acl_check(acl_file) if acl_file is not None else _no_acl_file),
    ]


def validate(
    rules_dir: Path | None = typer.Option(
        None, "--rules", help="rules directory (default: rules/)"
    ),
    acl_file: Path | None = typer.Option(
        None,
        "--acls",
        help=f"the broker's ACL file (default: {ACL_FILE} when it exists; a missing file given "
        "here is an error)",
    ),
) -> None:
    """Load and compile every schema, policy and rule file; exit 1 on the first problem of each."""
    console = Console(stderr=True)
    settings = load_settings()
    if rules_dir is not None:
        settings = settings.model_copy(update={"rules_dir": rules_dir})
    failed = 0
    for name, check in checks(acl_file):
        try:
            console.print(
                f"[green]ok[/]   {name}: {check(settings)}", highlight=False, soft_wrap=True
            )
        except PipelineError as exc:
            failed += 1
            console.print(
                f"[red]FAIL[/] {name}: {escape(clean(exc))}", highlight=False, soft_wrap=True
            )
    if failed:
        raise typer.Exit(1)
