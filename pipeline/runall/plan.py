"""Which stages `auditpipe run all` runs, with which arguments and ports, in which order.

Start order: the webhook receiver (so the router's first delivery finds it), the sanitizer,
the detector, the router, one archiver per region, then the demo producer once every worker
is ready. Stop order (Ctrl-C): the producer first (no new input), then the sanitizer, the
detector, the router, the archivers (which write their open batches), the receiver last (so
the router's last deliveries still arrive).

The receiver listens where the routing file's webhooks point: every ``webhook`` receiver of
the file whose URL is on loopback must name the same ``host:port``; the receiver process
verifies their signatures with the one shared secret, which the router gets in each of their
``secret_env`` variables.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.route.config import RoutingConfig, WebhookReceiver
from pipeline.runall.supervisor import StageSpec

RECEIVER = "webhook-receiver"
SANITIZER = "sanitizer"
DETECTOR = "detector"
ROUTER = "router"
PRODUCER = "producer"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def archiver(region: str) -> str:
    return f"archiver-{region}"


@dataclass(frozen=True)
class LocalWebhook:
    receiver: str
    host: str
    port: int
    secret_env: str


def local_webhooks(config: RoutingConfig) -> list[LocalWebhook]:
    """The routing file's webhook receivers on loopback (what `run all`'s receiver serves)."""
    out = []
    for r in config.receivers:
        if not isinstance(r, WebhookReceiver):
            continue
        url = urlsplit(r.url)
        if url.hostname in LOOPBACK or url.netloc.split(":")[0] in LOOPBACK:
            port = url.port or (443 if url.scheme == "https" else 80)
            out.append(LocalWebhook(r.name, url.hostname or "127.0.0.1", port, r.secret_env))
    return out


def receiver_address(hooks: Sequence[LocalWebhook], routing: Path) -> tuple[str, int]:
    """The one ``(host, port)`` the local webhooks share; ConfigError otherwise."""
    addresses = sorted({(h.host, h.port) for h in hooks})
    if not addresses:
        raise ConfigError(
            f"{routing}: no webhook receiver on 127.0.0.1; `run all` delivers to its local "
            "receiver (see deploy/demo/routing.yaml)"
        )
    if len(addresses) > 1:
        raise ConfigError(
            f"{routing}: the local webhooks point at several addresses "
            f"({', '.join(f'{h}:{p}' for h, p in addresses)}); `run all` serves one"
        )
    return addresses[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free right now (the kernel's choice)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class Plan:
    """Everything `run all` needs to build its supervisor (pure data)."""

    routing: Path
    regions: tuple[str, ...]
    receiver_host: str
    receiver_port: int
    secret_file: Path
    deliveries: Path
    health_ports: dict[str, int]  # worker stage -> its /readyz port
    producer: bool = False
    rate: float = 50.0
    events: int = 0
    raw_topic: str = "audit.raw.demo"
    incident_every: float = 60.0
    #: more arguments per stage name, after the plan's own (e.g. ``{"sanitizer": ("--group",
    #: "e2e-sanitizer")}`` for a test's own consumer groups)
    extra_args: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @staticmethod
    def workers(regions: Sequence[str]) -> list[str]:
        """The stages that serve /readyz, in start order."""
        return [SANITIZER, DETECTOR, ROUTER, *(archiver(r) for r in regions)]

    @property
    def receiver_url(self) -> str:
        return f"http://{self.receiver_host}:{self.receiver_port}"

    def health_url(self, stage: str) -> str | None:
        port = self.health_ports.get(stage)
        return None if port is None else f"http://127.0.0.1:{port}/readyz"

    def stages(self) -> list[StageSpec]:
        """Every stage, in start order."""
        out = [
            StageSpec(
                RECEIVER,
                (
                    "run",
                    "webhook-receiver",
                    "--host",
                    self.receiver_host,
                    "--port",
                    str(self.receiver_port),
                    "--secret-file",
                    str(self.secret_file),
                    "--out",
                    str(self.deliveries),
                ),
                ready_url=f"{self.receiver_url}/healthz",
            )
        ]
        argv: dict[str, tuple[str, ...]] = {
            SANITIZER: ("run", "sanitizer"),
            DETECTOR: ("run", "detector"),
            ROUTER: ("run", "router", "--config", str(self.routing)),
        }
        for region in self.regions:
            argv[archiver(region)] = ("run", "archiver", "--region", region)
        for name in self.workers(self.regions):
            port = self.health_ports[name]
            out.append(
                StageSpec(
                    name,
                    argv[name],
                    ready_url=self.health_url(name),
                    env={"AUDITPIPE_HEALTH__PORT": str(port)},
                )
            )
        if self.producer:
            out.append(
                StageSpec(
                    PRODUCER,
                    (
                        "run",
                        "demo-producer",
                        "--topic",
                        self.raw_topic,
                        "--rate",
                        f"{self.rate:g}",
                        "--events",
                        str(self.events),
                        "--incident-every",
                        f"{self.incident_every:g}",
                    ),
                )
            )
        return [replace(s, argv=(*s.argv, *self.extra_args.get(s.name, ()))) for s in out]

    def stop_order(self) -> list[str]:
        """Producer, sanitizer, detector, router, archivers, receiver."""
        first = [PRODUCER] if self.producer else []
        return [*first, *self.workers(self.regions), RECEIVER]
