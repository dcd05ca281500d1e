"""Bodies for each receiver type, and the webhook signature.

Every body carries the group (labels and key), the counts, the first/last event times, sample
event ids and the runbook link(s).

Severity to PagerDuty (Events API v2 allows critical, error, warning, info)::

    CRITICAL -> critical    HIGH -> error    MEDIUM -> warning    LOW, INFO -> info

Webhook signature, like Stripe's: header ``X-Auditpipe-Signature: t=<unix seconds>,v1=<hex>``
where ``hex = HMAC-SHA256(secret, "<t>.<body>")``; receivers verify with :func:`verify` and
reject a timestamp older than a tolerance (replay protection).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from pipeline.route.grouping import Notification

SIGNATURE_HEADER = "X-Auditpipe-Signature"
PAGERDUTY_SEVERITY = {
    "CRITICAL": "critical",
    "HIGH": "error",
    "MEDIUM": "warning",
    "LOW": "info",
    "INFO": "info",
}
SOURCE = "auditpipe"
_SUMMARY_MAX = 1024  # PagerDuty's limit on payload.summary


def _alert_brief(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "dedup_key": alert["dedup_key"],
        "rule_id": alert["rule_id"],
        "title": alert["title"],
        "severity": alert["severity"],
        "count": alert["count"],
        "group": alert.get("group", {}),
        "first_event_ts": alert["first_event_ts"],
        "last_event_ts": alert["last_event_ts"],
        "sample_event_ids": list(alert.get("sample_event_ids") or [])[:5],
        "runbook": alert.get("runbook"),
        "service": alert.get("service"),
        "team": alert.get("team"),
    }


def webhook_body(note: Notification) -> dict[str, Any]:
    """The generic JSON body (also what the ``kafka`` receiver publishes)."""
    return {
        "version": "1",
        "id": note.id,
        "status": note.status,
        "reason": note.reason,
        "receiver": note.receiver,
        "route": note.route,
        "group_key": note.group_key,
        "group_labels": note.group_labels,
        "dedup_key": note.dedup_key,
        "severity": note.severity,
        "title": note.title,
        "ts": note.ts,
        "alert_count": note.alert_count,
        "event_count": note.event_count,
        "first_event_ts": note.first_event_ts,
        "last_event_ts": note.last_event_ts,
        "sample_event_ids": note.sample_event_ids,
        "runbooks": note.runbooks,
        "new_dedup_keys": note.new_keys,
        "alerts": [_alert_brief(a) for a in note.alerts],
        "truncated": note.alert_count > len(note.alerts),
    }


def encode(body: dict[str, Any]) -> bytes:
    """Canonical bytes to send (and sign): sorted keys, no whitespace."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign(body: bytes, secret: str | bytes, timestamp: int) -> str:
    """The ``X-Auditpipe-Signature`` header value for ``body`` sent at ``timestamp``."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(header: str, body: bytes, secret: str | bytes, now: int, tolerance_s: int = 300) -> bool:
    """Whether ``header`` is a valid signature of ``body`` made no more than ``tolerance_s`` ago."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(body, secret, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))


def pagerduty_event(note: Notification, routing_key: str) -> dict[str, Any]:
    """A PagerDuty Events API v2 event: one incident per group (``dedup_key``)."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if note.status == "resolved" else "trigger",
        "dedup_key": note.dedup_key,
    }
    if note.status == "resolved":
        return event
    first = note.alerts[0] if note.alerts else {}
    event["payload"] = {
        "summary": note.title[:_SUMMARY_MAX],
        "severity": PAGERDUTY_SEVERITY.get(note.severity, "info"),
        "source": first.get("service") or SOURCE,
        "timestamp": note.ts,
        "component": first.get("service"),
        "group": first.get("team"),
        "class": first.get("rule_id"),
        "custom_details": {
            "group_key": note.group_key,
            "group_labels": note.group_labels,
            "alert_count": note.alert_count,
            "event_count": note.event_count,
            "first_event_ts": note.first_event_ts,
            "last_event_ts": note.last_event_ts,
            "sample_event_ids": note.sample_event_ids,
            "alert_dedup_keys": [a["dedup_key"] for a in note.alerts],
        },
    }
    event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
    event["links"] = [{"href": url, "text": "Runbook"} for url in note.runbooks]
    event["client"] = SOURCE
    return event


def slack_payload(note: Notification, channel: str | None = None) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body: ``text`` fallback plus Block Kit blocks."""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(note.group_labels.items())) or "-"
    facts = (
        f"*Group:* `{labels}`\n*Alerts:* {note.alert_count}  *Events:* {note.event_count}\n"
        f"*First:* {note.first_event_ts}  *Last:* {note.last_event_ts}\n"
        f"*Samples:* {', '.join(note.sample_event_ids[:5]) or '-'}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": note.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
    ]
    if note.runbooks:
        links = " · ".join(f"<{url}|Runbook>" for url in note.runbooks)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    body: dict[str, Any] = {"text": f"{note.title}: {labels}", "blocks": blocks}
    if channel:
        body["channel"] = channel
    return body


def ticket_bodies(note: Notification, project: str | None = None) -> list[dict[str, Any]]:
    """One ticket per alert ``dedup_key`` new in this notification (none when resolved or a
    repeat). ``external_id`` is the dedup key, so the tracker can refuse a duplicate too."""
    if note.status != "firing":
        return []
    out = []
    for alert in note.alerts:
        if alert["dedup_key"] not in note.new_keys:
            continue
        brief = _alert_brief(alert)
        out.append(
            {
                "external_id": alert["dedup_key"],
                "project": project,
                "title": f"[{alert['severity']}] {alert['title']}",
                "severity": alert["severity"],
                "labels": sorted(alert.get("tags") or []),
                "runbook": alert.get("runbook"),
                "group_key": note.group_key,
                "group": alert.get("group", {}),
                "count": alert["count"],
                "first_event_ts": alert["first_event_ts"],
                "last_event_ts": alert["last_event_ts"],
                "sample_event_ids": brief["sample_event_ids"],
                "alert": brief,
            }
        )
    return out
