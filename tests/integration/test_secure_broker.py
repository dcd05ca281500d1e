"""The stack's secure mode (`stack up --secure`) on a broker of its own: no plaintext listener,
SCRAM over TLS only, no access without an ACL (not even to metadata of a topic), the admin a
super user, and a KRaft controller listener that takes only the broker's certificate."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.cimpl import NewTopic

from pipeline.kafka import clients
from pipeline.kafka.config import KafkaConnection
from pipeline.kafka.secured import connection_from_properties
from pipeline.settings import Settings
from pipeline.stack import procs
from pipeline.stack.config import StackConfig
from pipeline.stack.secure import SecureFiles
from pipeline.stack.services import KafkaService, port_open
from tests.integration.authz import authorized_ops

pytestmark = pytest.mark.integration


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def secure_broker(
    stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackConfig]:
    if stack.uses_external_services:
        pytest.skip("needs the local stack's Kafka jars")
    home = tmp_path_factory.mktemp("secure-stack")
    (home / "lib").symlink_to(stack.stack.root / "lib")
    plain, controller, sasl = _free_ports(3)
    cfg = StackConfig(
        home=home,
        kafka_port=plain,
        kafka_controller_port=controller,
        kafka_secure_port=sasl,
        kafka_heap="256m",
        secure=True,
    )
    svc = KafkaService(cfg)
    svc.prepare()
    spec = svc.spec()
    procs.start(spec)
    try:
        deadline = time.monotonic() + 120
        gone = 0  # looks in a row without the process (one miss can be the JVM launcher)
        while not svc.health().ok:
            gone = gone + 1 if procs.running_pid(spec) is None else 0
            assert gone < 3, procs.tail(spec.log_file, 30)
            assert time.monotonic() < deadline, procs.tail(spec.log_file, 30)
            time.sleep(0.5)
        svc.after_start()
        yield cfg
    finally:
        procs.stop(spec)


def _conn(cfg: StackConfig, principal: str) -> KafkaConnection:
    return connection_from_properties(SecureFiles.of(cfg).client_properties(principal), "t")


def test_no_plaintext_listener(secure_broker: StackConfig) -> None:
    assert not port_open(secure_broker.host, secure_broker.kafka_port)
    with pytest.raises(KafkaException):
        clients.admin(
            KafkaConnection(bootstrap_servers=secure_broker.secure_bootstrap_servers)
        ).list_topics(timeout=8)


def test_admin_is_a_super_user_and_others_get_nothing_without_acls(
    secure_broker: StackConfig,
) -> None:
    admin = clients.admin(_conn(secure_broker, "admin"))
    name = "audit.events"
    for fut in admin.create_topics([NewTopic(name, 1, 1)]).values():
        fut.result(timeout=30)
    assert "read" in authorized_ops(_conn(secure_broker, "admin"), name)
    # no ACL applied on this broker: every other principal is refused, even the sanitizer
    for principal in ("sanitizer", "analyst", "break-glass"):
        assert authorized_ops(_conn(secure_broker, principal), name) == set(), principal
    analyst = clients.admin(_conn(secure_broker, "analyst"))
    refused = analyst.create_topics([NewTopic("x.y", 1, 1)])
    with pytest.raises(KafkaException) as exc:
        refused["x.y"].result(timeout=30)
    assert exc.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def _controller_answer(cfg: StackConfig, ctx: ssl.SSLContext) -> str:
    """ "open" if the controller listener keeps a TLS connection, "refused" if it drops it."""
    addr = (cfg.host, cfg.kafka_controller_port)
    with socket.create_connection(addr, timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=cfg.host) as tls:
                # TLS 1.3: the server checks the client certificate after the handshake, so a
                # refusal shows on the first read; an accepted client just waits for a request
                tls.settimeout(3)
                return "refused" if tls.recv(1) == b"" else "open"
        except TimeoutError:
            return "open"
        except (ssl.SSLError, ConnectionError):
            return "refused"


def test_controller_listener_requires_the_brokers_certificate(
    secure_broker: StackConfig,
) -> None:
    files = SecureFiles.of(secure_broker)
    anonymous = ssl.create_default_context(cafile=str(files.ca_cert))
    assert _controller_answer(secure_broker, anonymous) == "refused"
    as_broker = ssl.create_default_context(cafile=str(files.ca_cert))
    as_broker.load_cert_chain(files.broker_keystore)
    assert _controller_answer(secure_broker, as_broker) == "open"
