"""The service catalog (``rules/services.yaml``): owning team, tier, data classification."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import RuleError
from pipeline.yamlfiles import compose_all, read_text

Classification = Literal["public", "internal", "confidential", "restricted"]


class ServiceEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str = Field(min_length=1)
    tier: int = Field(ge=0, le=4, description="0 = most critical")
    data_classification: Classification = "internal"
    oncall: str | None = None


class ServiceCatalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    services: dict[str, ServiceEntry] = Field(default_factory=dict)
    default: ServiceEntry | None = None

    def lookup(self, service: str) -> ServiceEntry | None:
        return self.services.get(service, self.default)


def load_catalog(path: Path) -> ServiceCatalog:
    """Parse and validate the catalog; an error names the file and line."""
    text = read_text(path, "service catalog")
    try:
        nodes = compose_all(text)  # strict: no duplicate keys, no aliases (issue 16)
        node = nodes[0] if nodes else None
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleError(
            f"invalid YAML: {exc}", file=path, line=mark.line + 1 if mark else None
        ) from None
    try:
        return ServiceCatalog.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        raise RuleError(
            f"{'.'.join(loc)}: {first['msg']}", file=path, line=_line_of(node, loc)
        ) from None


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """1-based line of the deepest mapping key along ``loc`` that exists in the YAML."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                line = key.start_mark.line + 1
                node = value
                break
        else:
            break
    return line
