"""Fetch the stack's artifacts from the package registries this machine reaches.

- Kafka and its log4j2 binding, and the Apicurio Registry distribution: Maven Central, via
  ``deploy/local/pom.xml`` (``maven-dependency-plugin``); Maven caches them in ``~/.m2``.
- versitygw: ``go install`` from the Go module proxy; Go caches modules in its own cache.

Everything lands under the stack home, versioned by name, so a version bump fetches anew and
a warm start fetches nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import StackError
from pipeline.stack.config import StackConfig

Report = Callable[[str], None]

VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw"


def pom_path() -> Path:
    """The stack's pom: ``deploy/local/pom.xml`` of the source checkout."""
    candidate = Path(__file__).resolve().parents[2] / "deploy" / "local" / "pom.xml"
    if not candidate.is_file():
        raise StackError(
            f"{candidate} not found; run `auditpipe stack` from a source checkout of auditpipe",
            service="fetch",
        )
    return candidate


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"`{name}` is not on PATH; {hint}", service="fetch")
    return path


def _run(argv: list[str], *, service: str, log: Path, env: dict[str, str] | None = None) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        raise StackError(
            f"`{' '.join(argv[:3])} …` failed with exit code {result.returncode}",
            service=service,
            log=log,
        )


def kafka_ready(cfg: StackConfig) -> bool:
    return (cfg.kafka_lib_dir / f"kafka_2.13-{cfg.kafka_version}.jar").is_file()


def registry_ready(cfg: StackConfig) -> bool:
    return cfg.apicurio_jar.is_file()


def versitygw_ready(cfg: StackConfig) -> bool:
    return cfg.versitygw_bin.is_file()


def fetch_maven(cfg: StackConfig, report: Report) -> None:
    """Collect the Kafka jars and the Apicurio distribution with Maven."""
    if kafka_ready(cfg) and registry_ready(cfg):
        return
    mvn = require_tool("mvn", "install Maven (e.g. `apt-get install maven`)")
    report(
        f"fetching Kafka {cfg.kafka_version} and Apicurio Registry {cfg.apicurio_version} (Maven)"
    )
    _run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom_path()),
            "package",
            f"-Dkafka.version={cfg.kafka_version}",
            f"-Dlog4j.version={cfg.log4j_version}",
            f"-Dapicurio.version={cfg.apicurio_version}",
            f"-Dstack.dir={cfg.root}",
        ],
        service="fetch (maven)",
        log=cfg.logs_dir / "fetch-maven.log",
    )
    if not kafka_ready(cfg):
        raise StackError(
            f"Kafka jars missing in {cfg.kafka_lib_dir} after Maven ran",
            service="fetch (maven)",
            log=cfg.logs_dir / "fetch-maven.log",
        )
    _unpack_apicurio(cfg, report)


def _unpack_apicurio(cfg: StackConfig, report: Report) -> None:
    v = cfg.apicurio_version
    archive = cfg.root / "dist" / f"apicurio-registry-app-{v}-all.tar.gz"
    if registry_ready(cfg):
        return
    if not archive.is_file():
        raise StackError(f"{archive} missing after Maven ran", service="fetch (maven)")
    report(f"unpacking Apicurio Registry {v}")
    target = cfg.apicurio_jar.parent
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    archive.unlink()
    if not registry_ready(cfg):
        raise StackError(f"{cfg.apicurio_jar} not in the Apicurio archive", service="fetch (maven)")


def fetch_versitygw(cfg: StackConfig, report: Report) -> None:
    """Build versitygw with `go install` into the stack's bin directory."""
    if versitygw_ready(cfg):
        return
    go = require_tool("go", "install Go 1.24 or newer")
    report(f"building versitygw {cfg.versitygw_version} (go install; first time takes a minute)")
    gobin = cfg.root / "bin" / ".gobin"
    shutil.rmtree(gobin, ignore_errors=True)
    gobin.mkdir(parents=True)
    env = {**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0"}
    _run(
        [go, "install", f"{VERSITYGW_MODULE}@{cfg.versitygw_version}"],
        service="fetch (go)",
        log=cfg.logs_dir / "fetch-go.log",
        env=env,
    )
    (gobin / "versitygw").rename(cfg.versitygw_bin)
    shutil.rmtree(gobin, ignore_errors=True)


def fetch_all(cfg: StackConfig, report: Report) -> None:
    require_tool("java", "install Java 17 (e.g. `apt-get install openjdk-17-jre-headless`)")
    fetch_maven(cfg, report)
    fetch_versitygw(cfg, report)
