"""The services of the local stack: how each is prepared, started and health-checked."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.errors import StackError
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.secured import connection_from_properties, upsert_scram_credentials
from pipeline.stack import procs, s3iam, secure
from pipeline.stack.config import S3RegionConfig, StackConfig
from pipeline.stack.procs import ProcessSpec


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


class Service(Protocol):
    """One service of the stack."""

    @property
    def name(self) -> str: ...

    @property
    def listens(self) -> str: ...

    @property
    def ports(self) -> tuple[int, ...]: ...

    def prepare(self) -> None: ...

    def spec(self) -> ProcessSpec: ...

    def health(self) -> Health: ...

    def after_start(self) -> None: ...


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (our own http URL)
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("`java` is not on PATH; install Java 17", service="stack")
    return java


# --- Kafka ---------------------------------------------------------------------------------


LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}{UTC}Z] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
"""

AUTHORIZER_LOG4J2 = """\
appender.authz.type = File
appender.authz.name = AUTHZ
appender.authz.fileName = {path}
appender.authz.layout.type = PatternLayout
appender.authz.layout.pattern = [%d{{ISO8601}}{{UTC}}Z] %p %m%n
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = INFO
logger.authorizer.additivity = false
logger.authorizer.appenderRef.authz.ref = AUTHZ
"""


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, as Kafka's ``Uuid.randomUuid``.

    Like Kafka's, it never starts with ``-`` (one id in 64 would; ``kafka-storage`` then takes
    it for an option and the format fails, as a CI run did) and is never the nil UUID.
    """
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        if not text.startswith("-") and any(raw):
            return text


def kafka_log4j2(authorizer_log: Path) -> str:
    """The broker's log4j2 config: everything to stdout (the service log), and the
    authorizer's decisions (every denial at INFO) to a file of their own."""
    return LOG4J2_PROPERTIES + AUTHORIZER_LOG4J2.format(path=authorizer_log)


class KafkaService:
    """Apache Kafka in KRaft mode, one combined broker+controller node."""

    name = "kafka"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.dir = cfg.root / "kafka"
        self.data_dir = self.dir / "data"
        self.properties = self.dir / "server.properties"
        self.log4j = self.dir / "log4j2.properties"

    @property
    def listens(self) -> str:
        sasl = f"{self.cfg.secure_bootstrap_servers} (SASL_SSL)"
        if self.running_secure():
            return sasl
        return f"{self.cfg.bootstrap_servers} (PLAINTEXT), {sasl}"

    @property
    def ports(self) -> tuple[int, ...]:
        c = self.cfg
        if c.secure:
            return (c.kafka_controller_port, c.kafka_secure_port)
        return (c.kafka_port, c.kafka_controller_port, c.kafka_secure_port)

    def server_properties(self) -> str:
        c = self.cfg
        files = secure.SecureFiles.of(c)
        creds = files.credentials() or secure.ensure(c).credentials()
        admin_password = creds[secure.ADMIN]
        scram_jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{secure.ADMIN}" password="{admin_password}";'
        )
        sasl = f"SASL_SSL://{c.host}:{c.kafka_secure_port}"
        controller = f"CONTROLLER://{c.host}:{c.kafka_controller_port}"
        if c.secure:
            listeners = f"{sasl},{controller}"
            protocol_map = "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
            inter_broker = "SASL_SSL"
            super_users = f"User:{secure.ADMIN};User:{secure.BROKER}"
            mode_lines = [
                # the controller listener takes only the broker's own certificate (mTLS)
                "listener.name.controller.ssl.client.auth=required",
                "ssl.principal.mapping.rules=RULE:^CN=([a-zA-Z0-9._-]+)$/$1/,DEFAULT",
            ]
        else:
            plain = f"PLAINTEXT://{c.host}:{c.kafka_port}"
            listeners = f"{plain},{sasl},{controller}"
            protocol_map = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL"
            inter_broker = "PLAINTEXT"
            # the dev listener: whoever connects in plaintext is ANONYMOUS, a super user
            super_users = f"User:{secure.ADMIN};User:ANONYMOUS"
            mode_lines = []
        return "\n".join(
            [
                "# written by `auditpipe stack up`; edit StackConfig instead",
                f"# mode: {'secure' if c.secure else 'dev (PLAINTEXT listener open)'}",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={c.host}:{c.kafka_controller_port}",
                f"listeners={listeners}",
                f"advertised.listeners={listeners}",
                "controller.listener.names=CONTROLLER",
                f"listener.security.protocol.map={protocol_map}",
                f"inter.broker.listener.name={inter_broker}",
                f"sasl.enabled.mechanisms={secure.SCRAM_MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={secure.SCRAM_MECHANISM}",
                f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram_jaas}",
                "ssl.keystore.type=PEM",
                f"ssl.keystore.location={files.broker_keystore}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={files.ca_cert}",
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found=false",
                f"super.users={super_users}",
                *mode_lines,
                f"log.dirs={self.data_dir}",
                "num.partitions=3",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                # every topic's retention is set from rules/topics.yaml; the dev stack checks it
                # often so that a retention test sees segments go within seconds (Kafka: 5 min)
                "log.retention.check.interval.ms=5000",
                "",
            ]
        )

    def classpath(self) -> str:
        jars = sorted(self.cfg.kafka_lib_dir.glob("*.jar"))
        if not jars:
            raise StackError(f"no jars in {self.cfg.kafka_lib_dir}", service=self.name)
        return ":".join(str(j) for j in jars)

    @property
    def authorizer_log(self) -> Path:
        """Every request the authorizer denied: principal, operation, resource, host."""
        return self.cfg.logs_dir / "kafka-authorizer.log"

    @property
    def scram_users_file(self) -> Path:
        """The principals whose SCRAM credentials this data directory holds."""
        return self.dir / "scram-users"

    def _scram_users(self) -> set[str]:
        if not self.scram_users_file.is_file():
            return set()
        return set(self.scram_users_file.read_text().split())

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        files = secure.ensure(self.cfg)
        creds = files.credentials()
        self.properties.write_text(self.server_properties())
        os.chmod(self.properties, 0o600)  # it holds the admin's password
        self.log4j.write_text(kafka_log4j2(self.authorizer_log))
        if (self.data_dir / "meta.properties").is_file():
            missing = set(creds) - self._scram_users()
            if self.cfg.secure and secure.ADMIN in missing:
                raise StackError(
                    "this data directory was formatted without SCRAM credentials; start it "
                    "once without --secure (that adds them), or `stack down --purge`",
                    service=self.name,
                )
            return
        cluster_id = new_cluster_id()
        scram = [
            arg
            for user, password in creds.items()
            for arg in (
                "--add-scram",
                f"{secure.SCRAM_MECHANISM}=[name={user},password={password}]",
            )
        ]
        log = self.cfg.logs_dir / "kafka-format.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            result = subprocess.run(
                [
                    _java(),
                    f"-Dlog4j2.configurationFile={self.log4j}",
                    "-cp",
                    self.classpath(),
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    f"--cluster-id={cluster_id}",
                    "--config",
                    str(self.properties),
                    *scram,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise StackError(
                "formatting KRaft storage failed:\n" + procs.tail(log, 15),
                service=self.name,
                log=log,
            )
        self.scram_users_file.write_text("\n".join(sorted(creds)) + "\n")

    def after_start(self) -> None:
        """Upsert the SCRAM credentials of every principal (idempotent): a data directory
        formatted before a principal existed gets it here."""
        files = secure.SecureFiles.of(self.cfg)
        creds = files.credentials()
        if not creds:
            return
        upsert_scram_credentials(self.admin_connection(), creds)
        self.scram_users_file.write_text("\n".join(sorted(creds)) + "\n")

    def running_secure(self) -> bool:
        """Whether the broker was started in secure mode (read from its written config)."""
        try:
            return "listener.name.controller.ssl.client.auth=required" in (
                self.properties.read_text()
            )
        except OSError:
            return self.cfg.secure

    def admin_connection(self) -> KafkaConnection:
        """The admin principal's connection, on the listener that is open."""
        if self.running_secure():
            props = secure.SecureFiles.of(self.cfg).client_properties(secure.ADMIN)
            return connection_from_properties(props, "auditpipe-stack")
        return KafkaConnection(bootstrap_servers=self.cfg.bootstrap_servers)

    def spec(self) -> ProcessSpec:
        return ProcessSpec(
            name=self.name,
            argv=[
                _java(),
                f"-Xmx{self.cfg.kafka_heap}",
                f"-Xms{self.cfg.kafka_heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.log4j}",
                f"-Dauditpipe.stack={self.cfg.root}",
                "-cp",
                self.classpath(),
                "kafka.Kafka",
                str(self.properties),
            ],
            marker=f"-Dauditpipe.stack={self.cfg.root}",
            log_file=self.cfg.logs_dir / "kafka.log",
            pid_file=self.cfg.run_dir / "kafka.pid",
        )

    def health(self) -> Health:
        port = self.cfg.kafka_secure_port if self.running_secure() else self.cfg.kafka_port
        if not port_open(self.cfg.host, port):
            return Health(False, "port closed")
        from pipeline.kafka import clients

        # the local stack's own broker (as its admin), whatever the settings' profile
        admin = clients.admin(self.admin_connection(), {"socket.timeout.ms": 2000})
        try:
            md = admin.list_topics(timeout=3)
        except Exception as exc:
            return Health(False, f"metadata request failed: {exc}")
        if not md.brokers:
            return Health(False, "metadata lists no broker")
        return Health(True, f"{len(md.brokers)} broker, {len(md.topics)} topics")


# --- Schema registry -----------------------------------------------------------------------


class RegistryService:
    """Apicurio Registry (in-memory storage) with its Confluent-compatible API."""

    name = "schema-registry"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg

    @property
    def listens(self) -> str:
        return f"{self.cfg.registry_url}/apis/ccompat/v7 (Confluent API)"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.cfg.registry_port,)

    def prepare(self) -> None:
        (self.cfg.root / "registry").mkdir(parents=True, exist_ok=True)

    def after_start(self) -> None:
        return None

    def spec(self) -> ProcessSpec:
        c = self.cfg
        return ProcessSpec(
            name=self.name,
            argv=[
                _java(),
                f"-Xmx{c.registry_heap}",
                "-Djava.awt.headless=true",
                f"-Dauditpipe.stack={c.root}",
                f"-Dquarkus.http.host={c.host}",
                f"-Dquarkus.http.port={c.registry_port}",
                "-Dapicurio.storage.kind=sql",
                "-Dapicurio.storage.sql.kind=h2",
                f"-Djava.io.tmpdir={c.root / 'registry'}",
                "-jar",
                str(c.apicurio_jar),
            ],
            marker=f"-Dauditpipe.stack={c.root}",
            log_file=c.logs_dir / "schema-registry.log",
            pid_file=c.run_dir / "schema-registry.pid",
            cwd=c.root / "registry",
        )

    def health(self) -> Health:
        c = self.cfg
        if not port_open(c.host, c.registry_port):
            return Health(False, "port closed")
        try:
            code, _ = _http_get(f"{c.registry_url}/health/ready")
            if code != 200:
                return Health(False, f"readiness check answered {code}")
            code, _ = _http_get(f"{c.registry_url}/apis/ccompat/v7/subjects")
        except OSError as exc:
            return Health(False, f"HTTP check failed: {exc}")
        if code != 200:
            return Health(False, f"ccompat API answered {code}")
        return Health(True, "ready")


# --- S3 regions ------------------------------------------------------------------------------


class S3Service:
    """versitygw over a POSIX directory with a versioning directory (needed for Object Lock)."""

    def __init__(self, cfg: StackConfig, region: S3RegionConfig) -> None:
        self.cfg = cfg
        self.region = region
        self.dir = cfg.root / "s3" / region.name
        self.data_dir = self.dir / "data"
        self.versions_dir = self.dir / "versions"

    @property
    def name(self) -> str:
        return f"s3-{self.region.name}"

    @property
    def listens(self) -> str:
        return f"{self.cfg.s3_endpoint(self.region.name)} (region {self.region.name})"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.region.port,)

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        s3iam.prepare(self.cfg, self.dir)

    def after_start(self) -> None:
        return None

    def spec(self) -> ProcessSpec:
        c = self.cfg
        return ProcessSpec(
            name=self.name,
            argv=[
                str(c.versitygw_bin),
                "--port",
                f"{c.host}:{self.region.port}",
                "--region",
                self.region.name,
                "--quiet",
                *s3iam.iam_args(c, self.region.name, self.dir),
                "posix",
                "--versioning-dir",
                str(self.versions_dir),
                str(self.data_dir),
            ],
            marker=str(self.data_dir),
            log_file=c.logs_dir / f"{self.name}.log",
            pid_file=c.run_dir / f"{self.name}.pid",
            # credentials go through the environment, never the command line
            env={
                "ROOT_ACCESS_KEY_ID": c.s3_access_key_id,
                "ROOT_SECRET_ACCESS_KEY": c.s3_secret_access_key.get_secret_value(),
            },
        )

    def health(self) -> Health:
        if not port_open(self.cfg.host, self.region.port):
            return Health(False, "port closed")
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.cfg.s3_endpoint(self.region.name),
            region_name=self.region.name,
            aws_access_key_id=self.cfg.s3_access_key_id,
            aws_secret_access_key=self.cfg.s3_secret_access_key.get_secret_value(),
            config=Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1}),
        )
        try:
            buckets = client.list_buckets().get("Buckets", [])
        except Exception as exc:
            return Health(False, f"ListBuckets failed: {exc}")
        return Health(True, f"{len(buckets)} buckets")


def all_services(cfg: StackConfig) -> list[Service]:
    services: list[Service] = [KafkaService(cfg), RegistryService(cfg)]
    services.extend(S3Service(cfg, r) for r in cfg.s3_regions)
    return services


def service_log(cfg: StackConfig, name: str) -> Path:
    return cfg.logs_dir / f"{name}.log"
