"""A private stack for the e2e run: Kafka, schema registry and two S3 Object Lock regions on
free ports under a directory of the run's own, started from the shared stack's jars and
binaries with ``pipeline.stack``'s services. The faults stop and start these, never the
shared stack that other tests use."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.settings import S3RegionConfig, StackConfig
from pipeline.stack import procs
from pipeline.stack.procs import ProcessSpec
from pipeline.stack.services import KafkaService, RegistryService, S3Service, Service

REGIONS = ("us-east-1", "eu-central-1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(predicate: Callable[[], bool], timeout_s: float, every_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


class PersistentRegistry(RegistryService):
    """The registry with its H2 database in a file: the stack's registry keeps its schemas in
    memory, so a restart would forget every schema id already on the topics (a real registry
    keeps them in Kafka or a database; the fault is an outage, not a wipe)."""

    def spec(self) -> ProcessSpec:
        base = super().spec()
        db = self.cfg.root / "registry" / "db"
        argv = list(base.argv)
        argv.insert(argv.index("-jar"), f"-Dapicurio.datasource.url=jdbc:h2:file:{db}")
        return ProcessSpec(
            name=base.name,
            argv=argv,
            marker=base.marker,
            log_file=base.log_file,
            pid_file=base.pid_file,
            cwd=base.cwd,
            env=base.env,
        )


class PrivateStack:
    """The services of one run, under ``home``; the jars and binaries of ``shared``."""

    def __init__(self, shared: StackConfig, home: Path) -> None:
        self.cfg = StackConfig(
            home=home,
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            kafka_secure_port=free_port(),
            registry_port=free_port(),
            s3_regions=tuple(S3RegionConfig(name=r, port=free_port()) for r in REGIONS),
            kafka_heap="512m",
            registry_heap="256m",
            kafka_version=shared.kafka_version,
            apicurio_version=shared.apicurio_version,
            versitygw_version=shared.versitygw_version,
        )
        for mine, theirs in (
            (self.cfg.kafka_lib_dir, shared.kafka_lib_dir),
            (self.cfg.apicurio_jar.parent, shared.apicurio_jar.parent),
            (self.cfg.versitygw_bin, shared.versitygw_bin),
        ):
            mine.parent.mkdir(parents=True, exist_ok=True)
            if not mine.exists():
                mine.symlink_to(theirs)
        self.kafka = KafkaService(self.cfg)
        self.registry = PersistentRegistry(self.cfg)
        self.s3 = {r.name: S3Service(self.cfg, r) for r in self.cfg.s3_regions}
        self.services: list[Service] = [self.kafka, self.registry, *self.s3.values()]

    @staticmethod
    def available(shared: StackConfig) -> str | None:
        """Why a private stack cannot run here (None: it can)."""
        if not any(shared.kafka_lib_dir.glob("*.jar")):
            return f"no Kafka jars in {shared.kafka_lib_dir} (auditpipe stack fetch)"
        if not shared.apicurio_jar.is_file():
            return f"no registry jar {shared.apicurio_jar}"
        if not shared.versitygw_bin.is_file():
            return f"no {shared.versitygw_bin}"
        return None

    # --- endpoints, as a worker's environment -------------------------------------------
    def env(self) -> dict[str, str]:
        c = self.cfg
        endpoints = ",".join(f'"{r.name}": "{c.s3_endpoint(r.name)}"' for r in c.s3_regions)
        return {
            "AUDITPIPE_BOOTSTRAP_SERVERS": c.bootstrap_servers,
            "AUDITPIPE_SCHEMA_REGISTRY_URL": f"{c.registry_url}/apis/ccompat/v7",
            "AUDITPIPE_S3_ENDPOINTS": "{" + endpoints + "}",
            "AUDITPIPE_S3_ACCESS_KEY_ID": c.s3_access_key_id,
            "AUDITPIPE_S3_SECRET_ACCESS_KEY": c.s3_secret_access_key.get_secret_value(),
            "AUDITPIPE_STACK__HOME": str(c.home),
        }

    # --- lifecycle --------------------------------------------------------------------------
    def start(self, svc: Service, timeout_s: float = 180.0) -> float:
        """Start ``svc`` (prepared) and wait until it is healthy; the seconds it took."""
        t0 = time.monotonic()
        svc.prepare()
        procs.start(svc.spec())
        if not until(lambda: svc.health().ok, timeout_s, 0.5):
            raise RuntimeError(
                f"{svc.name} not healthy after {timeout_s:.0f}s: {svc.health().detail}\n"
                + procs.tail(svc.spec().log_file, 20)
            )
        svc.after_start()
        return time.monotonic() - t0

    def stop(self, svc: Service, *, kill: bool = False) -> None:
        """Stop ``svc``: politely, or (``kill``) with SIGKILL to its process group."""
        spec = svc.spec()
        if kill:
            procs.stop(spec, timeout_s=0.0)
        else:
            procs.stop(spec)

    def up(self) -> None:
        for svc in self.services:
            self.start(svc)

    def down(self) -> None:
        for svc in reversed(self.services):
            procs.stop(svc.spec(), timeout_s=15.0)
