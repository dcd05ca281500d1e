"""The signed-webhook receiver: signature checks, records, faults (pure logic and a loopback
HTTP server)."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from pipeline.route.payloads import SIGNATURE_HEADER, encode, sign, verify
from pipeline.runall.receiver import (
    MAX_BODY,
    Faults,
    Inbox,
    Receiver,
    ReceiverServer,
    check_signature,
    read_deliveries,
)

SECRET = "s3cret-for-tests"
NOTE = {
    "id": "n-1",
    "receiver": "security-webhook",
    "status": "firing",
    "alerts": [{"rule_id": "auth.bruteforce_success", "dedup_key": "dk-1"}],
}


def test_a_valid_signature_verifies() -> None:
    body = encode(NOTE)
    now = int(time.time())
    headers = {SIGNATURE_HEADER.lower(): sign(body, SECRET, now)}
    assert check_signature(headers, body, SECRET, now).ok


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unsigned"),
        ({SIGNATURE_HEADER: ""}, "unsigned"),
        ({SIGNATURE_HEADER: "t=1,v1=00"}, "invalid signature"),
    ],
)
def test_unsigned_and_forged_are_refused(headers: dict[str, str], reason: str) -> None:
    check = check_signature(headers, encode(NOTE), SECRET, int(time.time()))
    assert (check.ok, check.reason) == (False, reason)


def test_wrong_secret_tampered_body_and_stale_timestamp_are_refused() -> None:
    body, now = encode(NOTE), int(time.time())
    good = sign(body, SECRET, now)
    assert not check_signature({SIGNATURE_HEADER: sign(body, "other", now)}, body, SECRET, now).ok
    assert not check_signature({SIGNATURE_HEADER: good}, body + b" ", SECRET, now).ok
    assert not check_signature({SIGNATURE_HEADER: good}, body, SECRET, now + 301).ok


@pytest.mark.parametrize(
    "doc", [[], {"delay_s": -1}, {"delay_s": "x"}, {"fail_status": 200}, {"fail_status": "503"}]
)
def test_faults_parse_refuses_nonsense(doc: object) -> None:
    with pytest.raises(ValueError, match=r"faults|delay_s|fail_status"):
        Faults.parse(doc)


def test_faults_parse() -> None:
    assert Faults.parse({}) == Faults()
    assert Faults.parse({"delay_s": 1, "fail_status": 503}) == Faults(1.0, 503)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReceiverServer]:
    srv = ReceiverServer(Receiver(SECRET, tmp_path / "d.jsonl")).start()
    yield srv
    srv.close()


def _post(
    srv: ReceiverServer,
    body: bytes,
    headers: dict[str, str],
    method: str = "POST",
    path: str = "/h",
) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{srv.port}{path}", data=body, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback)
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _signed(body: bytes, key: str = "k-1") -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, SECRET, int(time.time())), "Idempotency-Key": key}


def test_server_records_verified_deliveries_and_refuses_the_rest(server: ReceiverServer) -> None:
    body = encode(NOTE)
    assert _post(server, body, _signed(body)) == 200
    assert _post(server, body, _signed(body)) == 200  # a retry: recorded as a duplicate
    assert _post(server, body, {}) == 401
    forged = {SIGNATURE_HEADER: sign(body, "not-the-secret", int(time.time()))}
    assert _post(server, body, forged) == 401
    assert server.receiver.counts() == {
        "verified": 2,
        "duplicates": 1,
        "rejected": 2,
        "refused": 0,
    }
    got = read_deliveries(server.receiver.out)
    assert [d.duplicate for d in got] == [False, True]
    first = got[0]
    assert first.signature_verified
    assert first.path == "/h"
    assert first.receiver == "security-webhook"
    assert first.rule_ids == ["auth.bruteforce_success"]
    assert first.alert_dedup_keys == ["dk-1"]
    assert first.body == NOTE
    assert first.signature is not None
    t = int(first.signature.split(",")[0].removeprefix("t="))
    assert verify(first.signature, encode(first.body), SECRET, t)  # re-checkable afterwards


def test_a_restarted_receiver_remembers_what_it_got(tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    for _ in range(2):
        srv = ReceiverServer(Receiver(SECRET, out)).start()
        body = encode(NOTE)
        assert _post(srv, body, _signed(body)) == 200
        srv.close()
    assert [d.duplicate for d in read_deliveries(out)] == [False, True]


def test_faults_are_set_by_a_signed_put(server: ReceiverServer) -> None:
    faults = encode({"fail_status": 503})
    assert _post(server, faults, {}, "PUT", "/_faults") == 401
    assert _post(server, faults, _signed(faults), "PUT", "/_faults") == 200
    body = encode(NOTE)
    assert _post(server, body, _signed(body)) == 503
    clear = encode({})
    assert _post(server, clear, _signed(clear), "PUT", "/_faults") == 200
    assert _post(server, body, _signed(body)) == 200
    assert server.receiver.counts()["verified"] == 1
    assert server.receiver.counts()["refused"] == 1


def test_an_inbox_gets_the_verified_deliveries_raw_and_timed(tmp_path: Path) -> None:
    inbox = Inbox()
    srv = ReceiverServer(Receiver(SECRET, tmp_path / "d.jsonl", listener=inbox)).start()
    try:
        body = encode(NOTE)
        before = time.time()
        assert _post(srv, body, _signed(body)) == 200
        assert _post(srv, body, {}) == 401  # refused: not in the inbox
        srv.receiver.faults = Faults(fail_status=503)  # in-process faults
        assert _post(srv, body, _signed(body, "k-2")) == 503
        assert srv.receiver.counts()["refused"] == 1
    finally:
        srv.close()
    [got] = inbox.arrivals()
    assert got.raw == body
    assert before <= got.at <= time.time()
    assert got.delivery.rule_ids == ["auth.bruteforce_success"]
    assert inbox.raw_bodies() == [body]
    assert inbox.alerts() == NOTE["alerts"]
    inbox.clear()
    assert inbox.arrivals() == []


def test_healthz_and_limits(server: ReceiverServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as resp:
        assert orjson.loads(resp.read())["ok"] is True
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("POST", "/h")
    conn.putheader("Content-Length", str(MAX_BODY + 1))  # refused before the body is read
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("POST", "/h", skip_accept_encoding=True)
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()


def test_read_deliveries_skips_a_torn_line(tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    out.write_bytes(b'{"received_at": "x", "path": "/"')
    assert read_deliveries(out) == []
    assert read_deliveries(tmp_path / "missing.jsonl") == []
