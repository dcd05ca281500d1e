"""A realistic audit-event generator for `auditpipe produce`, the demo and benchmarks.

Events come in *flows*: one user request crossing 1-4 services that share its ``request_id``
and ``trace_id``. Categories, actions and outcomes follow a production-like mix, and personal
data and secrets appear where real services leak them (emails as actor ids, client IPs, user
agents, card numbers, phone numbers, tokens and passwords in free-text details), so the
sanitizer has real work. Deterministic for a given ``seed``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.events.jsonform import format_ts

SERVICES = [
    "api-gateway",
    "auth-service",
    "billing-api",
    "admin-console",
    "data-export",
    "kms-proxy",
]
COUNTRIES = ["DE", "US", "FR", "GB", "NL", "IN", "BR", "JP"]
ROLES = ["viewer", "analyst", "editor", "billing-reader", "support", "admin"]
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
]
# Luhn-valid test card numbers and other look-alikes that real logs contain
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"]
PHONES = ["+49 30 901820", "+1 (415) 555-2671", "+44 20 7946 0958"]

# (category, action, weight, outcome weights SUCCESS/FAILURE/DENIED/ERROR)
MIX: list[tuple[str, str, int, tuple[int, int, int, int]]] = [
    ("AUTHN", "login", 30, (85, 12, 0, 3)),
    ("AUTHN", "logout", 8, (99, 0, 0, 1)),
    ("AUTHN", "mfa.challenge", 8, (90, 9, 0, 1)),
    ("AUTHN", "mfa.enroll", 1, (97, 2, 0, 1)),
    ("AUTHN", "mfa.disable", 1, (95, 0, 4, 1)),
    ("AUTHN", "password.reset", 2, (90, 8, 0, 2)),
    ("AUTHZ", "access.check", 40, (88, 0, 11, 1)),
    ("DATA_ACCESS", "read", 50, (97, 0, 2, 1)),
    ("DATA_ACCESS", "write", 15, (96, 1, 2, 1)),
    ("DATA_ACCESS", "export", 3, (93, 1, 5, 1)),
    ("DATA_ACCESS", "delete", 2, (94, 1, 4, 1)),
    ("DATA_ACCESS", "bulk_query", 2, (95, 2, 2, 1)),
    ("ADMIN", "role.grant", 1, (92, 0, 7, 1)),
    ("ADMIN", "role.revoke", 1, (97, 0, 2, 1)),
    ("ADMIN", "policy.update", 1, (95, 0, 4, 1)),
    ("ADMIN", "feature_flag.set", 1, (98, 0, 1, 1)),
    ("DATA_ACCESS", "key.decrypt", 6, (98, 0, 1, 1)),
    ("DATA_ACCESS", "secret.read", 2, (96, 0, 3, 1)),
    ("ADMIN", "retention.change", 1, (95, 0, 4, 1)),
    ("LIFECYCLE", "erasure.request", 1, (98, 1, 0, 1)),
    ("ADMIN", "legal_hold.set", 1, (97, 0, 2, 1)),
    ("INTEGRATION", "webhook.delivery", 4, (90, 8, 0, 2)),
    ("INTEGRATION", "transfer.outbound", 1, (96, 2, 1, 1)),
    ("LIFECYCLE", "deploy", 1, (95, 4, 0, 1)),
    ("SYSTEM", "error", 2, (0, 0, 0, 100)),
    ("SYSTEM", "rate_limit", 2, (0, 0, 100, 0)),
]
OUTCOMES = ["SUCCESS", "FAILURE", "DENIED", "ERROR"]
# Actions that the shipped detection rules alert on at every occurrence, whatever the volume
# (rules/detection: auth.mfa_disabled, admin.role_grant): MFA switched off, an admin-like role
# granted. Real traffic has them and so does the default mix; a *benign* background (the
# detector's false-positive tests) leaves them out, since each one is an incident by policy.
ALERTING_ACTIONS = frozenset({"mfa.disable"})
BENIGN_ROLES = [r for r in ROLES if r != "admin"]


class EventGenerator:
    """Endless stream of JSON-form audit events; ``seed`` makes it reproducible."""

    def __init__(
        self,
        seed: int = 0,
        actors: int = 500,
        environment: str = "prod",
        start: datetime | None = None,
        benign: bool = False,
    ) -> None:
        """``benign``: no event that a shipped detection rule alerts on by itself (no MFA
        disable, no admin-like role grant); the default output of a seed is unchanged."""
        self.rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
        self.environment = environment
        self.actors = [self._actor(i) for i in range(actors)]
        self._mix = [m for m in MIX if m[1] not in ALERTING_ACTIONS] if benign else MIX
        self._roles = BENIGN_ROLES if benign else ROLES
        self._mix_weights = [m[2] for m in self._mix]
        self._clock = start or datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def _actor(self, i: int) -> dict[str, Any]:
        rng = self.rng
        name = f"{rng.choice(FIRST)}.{i}"
        kind = "service" if i % 25 == 0 else "user"
        return {
            # about a third of services still use the email as the user id: PII to scrub
            "id": f"{name}@example.com" if i % 3 == 0 and kind == "user" else f"usr_{i:06d}",
            "type": kind,
            "roles": rng.sample(ROLES[:-1], k=rng.randint(1, 2))
            + (["admin"] if i % 40 == 0 else []),
            "ip": f"{rng.choice([203, 198, 192])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
            f"{rng.randint(1, 254)}",
            "user_agent": rng.choice(AGENTS),
            "country": rng.choice(COUNTRIES[:3]) if i % 7 else rng.choice(COUNTRIES),
            "session_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }

    def _details(self, action: str, actor: dict[str, Any]) -> dict[str, str]:
        rng = self.rng
        roll = rng.random()
        details: dict[str, str] = {}
        if roll < 0.04:
            details["note"] = f"card {rng.choice(CARDS)} declined for {actor['id']}"
        elif roll < 0.07:
            details["request"] = (
                f"POST /login user={actor['id']}&password=hunter2-{rng.randint(0, 99)}"
            )
        elif roll < 0.09:
            details["headers"] = "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig"
        elif roll < 0.11:
            details["contact"] = f"call back on {rng.choice(PHONES)}"
        elif roll < 0.12:
            details["config"] = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        if action in ("export", "bulk_query"):
            details["format"] = rng.choice(["csv", "parquet", "json"])
        return details

    def flows(self) -> Iterator[list[dict[str, Any]]]:
        rng = self.rng
        while True:
            actor = rng.choice(self.actors)
            request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            trace_id = f"{rng.getrandbits(128):032x}"
            hops = rng.choices([1, 2, 3, 4], weights=[50, 30, 15, 5])[0]
            services = (
                ["api-gateway", *rng.sample(SERVICES[1:], k=hops - 1)]
                if hops > 1
                else [rng.choice(SERVICES)]
            )
            self._clock += timedelta(milliseconds=rng.randint(1, 50))
            flow = []
            for hop, service in enumerate(services):
                category, action, _, weights = rng.choices(self._mix, weights=self._mix_weights)[0]
                outcome = rng.choices(OUTCOMES, weights=weights)[0]
                ts = self._clock + timedelta(milliseconds=hop * rng.randint(1, 20))
                flow.append(
                    self._event(service, category, action, outcome, actor, ts, request_id, trace_id)
                )
            yield flow

    def _event(
        self,
        service: str,
        category: str,
        action: str,
        outcome: str,
        actor: dict[str, Any],
        ts: datetime,
        request_id: str,
        trace_id: str,
    ) -> dict[str, Any]:
        rng = self.rng
        doc: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "ts": format_ts(ts),
            "service": service,
            "environment": self.environment,
            "category": category,
            "action": action,
            "outcome": outcome,
            "actor": actor,
            "request_id": request_id,
            "trace_id": trace_id,
            "span_id": f"{rng.getrandbits(64):016x}",
            "details": self._details(action, actor),
        }
        status = {"SUCCESS": 200, "FAILURE": 401, "DENIED": 403, "ERROR": 500}[outcome]
        doc["http"] = {
            "method": rng.choice(["GET", "POST", "PUT"]),
            "path": f"/v1/{action.replace('.', '/')}",
            "status": status if action != "rate_limit" else 429,
        }
        if category == "AUTHZ" or outcome == "DENIED":
            doc["authz"] = {
                "decision": "DENY" if outcome == "DENIED" else "ALLOW",
                "permission": f"{action}:{service}",
            }
        if category == "DATA_ACCESS":
            doc["target"] = {"type": "dataset", "id": f"ds-{rng.randint(1, 40)}"}
            doc["data"] = {
                "record_count": rng.choice([1, 10, 100, 5000]),
                "classification": rng.choice(["internal", "confidential", "restricted"]),
            }
        if action in ("role.grant", "role.revoke"):
            doc["target"] = {"type": "user", "id": f"usr_{rng.randint(0, 499):06d}"}
            doc["authz"] = {"decision": "ALLOW", "role": rng.choice(self._roles)}
        return doc

    def events(self) -> Iterator[dict[str, Any]]:
        for flow in self.flows():
            yield from flow


def seeded_values(doc: dict[str, Any]) -> set[str]:
    """The personal data and secrets this generator put into one event (for leak scans)."""
    actor = doc["actor"]
    values = {actor.get("ip"), actor.get("session_id")}
    if "@" in actor["id"]:
        values.add(actor["id"])
    for text in doc.get("details", {}).values():
        for marker in ("card ", "password=", "Bearer ", "call back on ", "aws_secret_access_key="):
            if marker in text:
                tail = text.split(marker, 1)[1]
                values.add(
                    tail.split(" declined")[0].split(" for ")[0] if marker == "card " else tail
                )
    return {v for v in values if v and len(v) >= 6}
