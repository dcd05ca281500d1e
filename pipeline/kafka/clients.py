"""The client layer: the only place auditpipe builds Kafka consumers, producers and admin
clients (confluent-kafka), and faust's broker settings, and the one commit function every
loop uses.

- :func:`connection` resolves :class:`~pipeline.settings.Settings` (bootstrap servers,
  security protocol, SASL, TLS, client id, session and poll timeouts; a password file is read
  here) into a :class:`~pipeline.kafka.config.KafkaConnection`.
- :func:`consumer`, :func:`producer`, :func:`admin` build the clients from a connection plus
  the caller's role-specific keys (group id, idempotence, ...). Consumers always get the
  connection's session and poll timeouts. Each client keeps the exact dict it was given
  (``client.config``), which is what librdkafka received.
- :func:`commit` commits offsets synchronously: retriable errors are retried, a commit refused
  because the partitions moved in a rebalance returns ``False`` (their records are re-delivered
  to the new owner), anything else raises :class:`~pipeline.errors.CommitError`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import confluent_kafka
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from pipeline.errors import CommitError, ConfigError
from pipeline.kafka import properties
from pipeline.kafka.config import KafkaConnection
from pipeline.settings import Settings

log = logging.getLogger(__name__)
LIBRDKAFKA_LOGGER = logging.getLogger("pipeline.kafka.librdkafka")

#: commit errors that mean "the group moved on": the partitions belong to another member now
REBALANCE_ERRORS = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError._ASSIGNMENT_LOST,
        KafkaError._STATE,
        KafkaError.STALE_MEMBER_EPOCH,
        KafkaError.FENCED_MEMBER_EPOCH,
    }
)
#: commit errors a later attempt can overcome (coordinator moving, broker unreachable)
RETRIABLE_ERRORS = frozenset(
    {
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._WAIT_COORD,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
    }
)
COMMIT_RETRY_S = 0.2


class Consumer(confluent_kafka.Consumer):
    """confluent-kafka's consumer, remembering the config it was built with."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config: Mapping[str, Any] = MappingProxyType(dict(config))
        super().__init__(dict(config))


class Producer(confluent_kafka.Producer):
    """confluent-kafka's producer, remembering the config it was built with."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config: Mapping[str, Any] = MappingProxyType(dict(config))
        super().__init__(dict(config))


class Admin(AdminClient):
    """confluent-kafka's admin client, remembering the config it was built with."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config: Mapping[str, Any] = MappingProxyType(dict(config))
        super().__init__(dict(config))


def connection(settings: Settings, client_id: str) -> KafkaConnection:
    """The connection every client of a process uses; ``client_id`` unless settings name one.
    Under the production profile a missing bootstrap address, security protocol or SASL value
    is a ``ConfigError`` naming the variable (never a plaintext fallback)."""
    settings.require("kafka", what="a Kafka client")
    k = settings.kafka
    if k.client_config is not None:  # a principal's properties file: servers and credentials
        return properties.connection_from_properties(k.client_config, client_id).model_copy(
            update={
                "client_id": k.client_id or client_id,
                "session_timeout_ms": k.session_timeout_ms,
                "max_poll_interval_ms": k.max_poll_interval_ms,
            }
        )
    password = k.sasl_password
    if password is None and k.sasl_password_file is not None:
        try:
            text = k.sasl_password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read AUDITPIPE_KAFKA__SASL_PASSWORD_FILE {k.sasl_password_file}: "
                f"{exc.strerror}"
            ) from exc
        password = SecretStr(text)

    def path(p: Any) -> str | None:
        return str(p) if p is not None else None

    return KafkaConnection(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=k.client_id or client_id,
        security_protocol=k.security_protocol or "PLAINTEXT",
        sasl_mechanism=k.sasl_mechanism,
        sasl_username=k.sasl_username,
        sasl_password=password,
        ssl_ca_location=path(k.ssl_ca_location),
        ssl_certificate_location=path(k.ssl_certificate_location),
        ssl_key_location=path(k.ssl_key_location),
        ssl_key_password=k.ssl_key_password,
        session_timeout_ms=k.session_timeout_ms,
        max_poll_interval_ms=k.max_poll_interval_ms,
    )


def consumer(
    conn: KafkaConnection,
    group_id: str,
    options: Mapping[str, Any] | None = None,
    *,
    logger: logging.Logger | None = None,
) -> Consumer:
    """A consumer in ``group_id``; ``options`` are the caller's librdkafka keys."""
    return Consumer(
        {
            **conn.to_librdkafka(),
            **conn.consumer_timeouts(),
            "group.id": group_id,
            **(options or {}),
            **_logger(logger),
        }
    )


def producer(
    conn: KafkaConnection,
    options: Mapping[str, Any] | None = None,
    *,
    logger: logging.Logger | None = None,
) -> Producer:
    """A producer; ``options`` are the caller's librdkafka keys (acks, idempotence, ...)."""
    return Producer({**conn.to_librdkafka(), **(options or {}), **_logger(logger)})


def admin(
    conn: KafkaConnection,
    options: Mapping[str, Any] | None = None,
    *,
    logger: logging.Logger | None = None,
) -> Admin:
    """An admin client. Its librdkafka log lines are served by ``poll()``: a long-lived one
    polls after each use (a short-lived one drops what it did not serve when it is closed)."""
    return Admin({**conn.to_librdkafka(), **(options or {}), **_logger(logger)})


def faust_settings(conn: KafkaConnection) -> dict[str, Any]:
    """faust App keyword settings for this connection (broker, credentials, timeouts)."""
    return conn.to_faust()


def commit(consumer: confluent_kafka.Consumer, offsets: Sequence[TopicPartition]) -> bool:
    """Commit ``offsets`` synchronously. Retriable errors are retried until the commit goes
    through; ``False`` when the group rebalanced and these partitions may be another member's
    (their records are re-delivered to it); any other error raises ``CommitError``."""
    while True:
        try:
            consumer.commit(offsets=list(offsets), asynchronous=False)
            return True
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not isinstance(err, KafkaError):
                raise CommitError(f"commit failed: {exc}") from exc
            code = err.code()
            if code in REBALANCE_ERRORS:
                log.warning(
                    "commit refused after a rebalance; records will be re-delivered",
                    extra={"error": err.str()},
                )
                return False
            if code in RETRIABLE_ERRORS or err.retriable():
                log.warning("commit failed; retrying", extra={"error": err.str()})
                time.sleep(COMMIT_RETRY_S)
                continue
            raise CommitError(f"commit failed: {err.str()} ({err.name()})") from exc


class RepeatFilter(logging.Filter):
    """Lets one line of a kind through per ``window_s`` seconds; the next one let through
    carries ``repeats_suppressed``, how many were held back in between.

    librdkafka logs every failed attempt: one "Connect ... failed" line per reconnect, about
    20 a second per client while a broker is down. A line's kind is its logger, level and
    message with every number blanked (client instance names, ports, milliseconds). At most
    ``max_kinds`` kinds are remembered (the oldest dropped).
    """

    _NUMBERS = re.compile(r"\d+")

    def __init__(
        self,
        window_s: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1024,
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self._max_kinds = max_kinds
        self._kinds: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def held(self) -> int:
        """Lines held back in the current windows (not yet reported by a later line)."""
        with self._lock:
            return sum(n for _, n in self._kinds.values())

    def filter(self, record: logging.LogRecord) -> bool:
        kind = f"{record.name}|{record.levelno}|{self._NUMBERS.sub('#', record.getMessage())}"
        now = self._clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen[0] < self.window_s:
                self._kinds[kind] = (seen[0], seen[1] + 1)
                return False
            self._kinds[kind] = (now, 0)
            self._kinds.move_to_end(kind)
            while len(self._kinds) > self._max_kinds:
                self._kinds.popitem(last=False)
        if seen is not None and seen[1]:
            record.repeats_suppressed = seen[1]
        return True


def _logger(logger: logging.Logger | None) -> dict[str, Any]:
    """librdkafka's log lines go to ``logger`` (default ``LIBRDKAFKA_LOGGER``), served by the
    client's poll/consume calls and written as our JSON lines (never librdkafka's own
    plain-text lines on stderr); a kind of line repeated within 10 s is written once, with
    the count of those held back (``RepeatFilter``)."""
    target = logger or LIBRDKAFKA_LOGGER
    with _FILTER_LOCK:
        if not any(isinstance(f, RepeatFilter) for f in target.filters):
            target.addFilter(RepeatFilter())
    return {"logger": target}


_FILTER_LOCK = threading.Lock()
