"""The verifier fails closed (issue 16): a missing, mistyped or wiped archive, a bad time range,
a cut tail (batches and checkpoints deleted together), a region shorter than its peer's witnesses
prove, a proof whose printed fields are not bound, and a signing key others can read."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from pipeline.archive.format import layout
from pipeline.archive.format.keys import Signer
from pipeline.archive.format.store import FileStore
from pipeline.archive.write.witness import latest_witness
from pipeline.cli.safe import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from tests.hostile.archives import (
    HEARTBEAT_S,
    TOPIC,
    bodies,
    streaming_archive,
    write_public_key,
)
from tests.hostile.conftest import Cli

# verify, verify-proof and import emit the read's audit event (issue 12): they need the stack
pytestmark = pytest.mark.integration

EVENTS = bodies(30)


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def pub(tmp_path: Path, signer: Signer) -> Path:
    return write_public_key(signer, tmp_path / "k.pub.pem")


def _fresh(root: Path, signer: Signer) -> FileStore:
    """3 flushes (6 clock ticks) ending about now: fresh under the default max-age."""
    return streaming_archive(root, signer, EVENTS, ago=timedelta(seconds=6 * HEARTBEAT_S))


def test_a_mistyped_location_is_an_error_and_is_not_created(
    cli: Cli, tmp_path: Path, pub: Path
) -> None:
    typo = tmp_path / "a" / "typo"
    r = cli("verify", "--source", typo.as_uri(), "--public-key", str(pub)).check(EXIT_UNUSABLE)
    assert "does not exist" in r.err
    assert "OK" not in r.out
    assert not typo.exists()
    assert not typo.parent.exists()
    r = cli("prove", "x", "--source", typo.as_uri()).check(EXIT_UNUSABLE)
    assert not typo.exists()


def test_a_file_given_as_the_archive_is_an_error(cli: Cli, tmp_path: Path, pub: Path) -> None:
    r = cli("verify", "--source", pub.as_uri(), "--public-key", str(pub)).check(EXIT_UNUSABLE)
    assert "not a directory" in r.err


def test_a_wiped_archive_is_not_ok(cli: Cli, tmp_path: Path, signer: Signer, pub: Path) -> None:
    store = _fresh(tmp_path / "arch", signer)
    for key in list(store.list("")):
        (tmp_path / "arch" / key).unlink()
    r = cli("verify", "--source", (tmp_path / "arch").as_uri(), "--public-key", str(pub))
    r.check(EXIT_FAILED)
    assert "empty" in r.out
    assert not r.out.startswith("OK")


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        ("2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z"),  # from after to
        ("yesterday", None),
        (None, "9999-99-99T00:00:00Z"),
        ("2026-12-01T00:00:00", None),  # no offset
    ],
)
def test_time_range_is_validated(
    cli: Cli, tmp_path: Path, signer: Signer, pub: Path, frm: str | None, to: str | None
) -> None:
    _fresh(tmp_path / "arch", signer)
    args = ["verify", "--source", (tmp_path / "arch").as_uri(), "--public-key", str(pub)]
    args += ["--from", frm] if frm else []
    args += ["--to", to] if to else []
    r = cli(*args).check(EXIT_UNUSABLE)
    assert "OK" not in r.out


def _cut_tail(root: Path, store: FileStore, batches: int, checkpoints: int) -> None:
    """Delete the last ``batches`` batches (object, manifest, signature) and the last
    ``checkpoints`` checkpoints: what an attacker with delete rights on a plain store does."""
    manifests = sorted(
        (k for k in store.list(layout.EVENTS) if k.endswith(layout.MANIFEST_SUFFIX)),
        key=lambda k: int(k.split("/")[-1].split("-")[0]) if k.split("/")[-1][0].isdigit() else 0,
    )
    for mkey in manifests[-batches:] if batches else []:
        okey = layout.object_key_of_manifest(mkey)
        for key in (mkey, okey, layout.manifest_sig_key(okey)):
            (root / key).unlink()
    cps = [k for k in store.list(layout.CHECKPOINTS) if k.endswith(layout.CHECKPOINT_SUFFIX)]
    cps.sort(key=lambda k: layout.parse_checkpoint_key(k).seq)  # type: ignore[union-attr]
    for key in cps[-checkpoints:]:
        (root / key).unlink()
        (root / layout.checkpoint_sig_key(key)).unlink()


def test_a_cut_tail_shows_against_the_wall_clock(
    cli: Cli, tmp_path: Path, signer: Signer, pub: Path
) -> None:
    root = tmp_path / "arch"
    # 3 batches then an idle archiver's heartbeats for 20 minutes, the last one about now
    store = streaming_archive(
        root, signer, EVENTS, ago=timedelta(seconds=26 * HEARTBEAT_S), idle_heartbeats=20
    )
    args = ["verify", "--source", root.as_uri(), "--public-key", str(pub)]
    r = cli(*args).check(EXIT_OK)
    assert r.out.startswith("OK; 30 events")
    # the last batch and every checkpoint since it: the chain left is consistent in itself
    _cut_tail(root, store, batches=1, checkpoints=21)
    r = cli(*args).check(EXIT_FAILED)
    assert "stale:" in r.out
    assert "latest checkpoint of topic audit.events" in r.out
    r = cli(*args, "--max-age", "off").check(EXIT_OK)  # what verify said before issue 16
    r = cli(*args, "--max-age", "2h").check(EXIT_OK)
    r = cli(*args, "--max-age", "5m").check(EXIT_FAILED)


@pytest.mark.parametrize("bad", ["0m", "-5m", "5", "5 minutes", "1e9s", "\uff11m"])
def test_max_age_is_validated(
    cli: Cli, tmp_path: Path, signer: Signer, pub: Path, bad: str
) -> None:
    _fresh(tmp_path / "arch", signer)
    args = ["verify", "--source", (tmp_path / "arch").as_uri(), "--public-key", str(pub)]
    cli(*args, "--max-age", bad).check(EXIT_UNUSABLE)


def test_compare_fails_when_a_region_is_shorter_than_witnessed(
    cli: Cli, tmp_path: Path, signer: Signer, pub: Path
) -> None:
    ra, rb = tmp_path / "a", tmp_path / "b"
    sb = _fresh(rb, signer)
    witnesses = iter([None, None, latest_witness(sb, "b", TOPIC)])
    streaming_archive(ra, signer, EVENTS, ago=timedelta(seconds=6 * HEARTBEAT_S), witness=witnesses)
    args = ["verify", "--source", ra.as_uri(), "--compare", rb.as_uri(), "--public-key", str(pub)]
    cli(*args).check(EXIT_OK)
    # b loses its last batch and its last checkpoint (the one a witnessed)
    _cut_tail(rb, sb, batches=1, checkpoints=1)
    r = cli(*args, "--max-age", "off").check(EXIT_FAILED)
    assert "witnessed by" in r.out


def _proof(cli: Cli, tmp_path: Path, signer: Signer) -> dict[str, object]:
    store = _fresh(tmp_path / "arch", signer)
    mkey = next(k for k in store.list(layout.EVENTS) if k.endswith(layout.MANIFEST_SUFFIX))
    from pipeline.archive.format.body import peek_id_ts
    from pipeline.archive.format.ocf import read_ocf

    contents = read_ocf(store.get(layout.object_key_of_manifest(mkey)))
    event_id = peek_id_ts(contents.body(3))[0]
    out = tmp_path / "proof.json"
    cli("prove", event_id, "--source", (tmp_path / "arch").as_uri(), "--out", str(out)).check(0)
    proof: dict[str, object] = orjson.loads(out.read_bytes())
    return proof


SENTINEL = "SENTINEL-forged-7f3a"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("object_key", f"events/audit.events/{SENTINEL}.avro"),
        ("partition", True),  # True == 1 in Python; not a partition
        ("offset", 2**62),
        ("topic", f"\x1b[31m{SENTINEL}"),
        ("event_id", SENTINEL),
        ("index", -1),
        ("index", "3"),
        ("tree_size", 2**40),
        ("kind", "exclusion-proof"),
        ("manifest", {"a": 1}),
        ("path", "00"),
        ("leaf", base64.b64encode(SENTINEL.encode()).decode()),
    ],
)
def test_verify_proof_binds_what_it_prints(
    cli: Cli, tmp_path: Path, signer: Signer, pub: Path, field: str, value: object
) -> None:
    proof = _proof(cli, tmp_path, signer)
    good = tmp_path / "good.json"
    good.write_bytes(orjson.dumps(proof))
    r = cli("verify-proof", str(good), "--public-key", str(pub)).check(EXIT_OK)
    assert r.out.startswith("OK: event ")
    proof[field] = value
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(proof))
    r = cli("verify-proof", str(bad), "--public-key", str(pub))
    r.check(EXIT_FAILED, sentinels=[SENTINEL])
    assert "OK" not in r.out


def test_verify_proof_of_garbage_is_a_clean_error(cli: Cli, tmp_path: Path, pub: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe{" + SENTINEL.encode())
    r = cli("verify-proof", str(bad), "--public-key", str(pub))
    r.check(EXIT_UNUSABLE, sentinels=[SENTINEL])
    bad.write_bytes(b"[1, 2]")
    cli("verify-proof", str(bad), "--public-key", str(pub)).check(EXIT_FAILED)
    cli("verify-proof", str(tmp_path), "--public-key", str(pub)).check(EXIT_UNUSABLE)


def test_a_signing_key_others_can_read_is_refused(cli: Cli, tmp_path: Path) -> None:
    r = cli("keys", "generate", "--out", str(tmp_path / "keys")).check(EXIT_OK)
    private = next((tmp_path / "keys").glob("*.key.pem"))
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"")
    args = ["archive", "import", "--input", str(events), "--dest", (tmp_path / "arch").as_uri()]
    os.chmod(private, 0o644)
    r = cli(*args, "--signing-key", str(private)).check(EXIT_UNUSABLE)
    assert "chmod 600" in r.err
    os.chmod(private, 0o600)
    cli(*args, "--signing-key", str(tmp_path)).check(EXIT_UNUSABLE)  # a directory
    cli("verify", "--source", (tmp_path / "arch").as_uri(), "--public-key", str(tmp_path)).check(
        EXIT_UNUSABLE
    )
