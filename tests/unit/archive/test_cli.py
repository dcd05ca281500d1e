"""The archive commands through typer's CliRunner, registered the way main.py will."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from pipeline.archive.format import layout
from pipeline.cli import archive as cli

runner = CliRunner()

app = typer.Typer()
app.add_typer(cli.keys_app, name="keys")
app.add_typer(cli.archive_app, name="archive")
app.command(name="verify")(cli.verify)
app.command(name="prove")(cli.prove)
app.command(name="verify-proof")(cli.verify_proof)


@pytest.fixture
def setup(tmp_path: Path, events_file: Path) -> tuple[Path, Path, Path, str]:
    """(archive dir, private key, public key, archive URL) after keys generate + import."""
    result = runner.invoke(app, ["keys", "generate", "--out", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    private = next((tmp_path / "keys").glob("*.key.pem"))
    public = next((tmp_path / "keys").glob("*.pub.pem"))
    url = (tmp_path / "archive").as_uri()
    result = runner.invoke(
        app,
        [
            "archive",
            "import",
            "--input",
            str(events_file),
            "--dest",
            url,
            "--signing-key",
            str(private),
            "--batch-size",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "imported 300 events" in result.output
    return tmp_path / "archive", private, public, url


@pytest.mark.integration  # verify/prove/import emit the read's audit event (issue 12)
def test_verify_ok(setup: tuple[Path, Path, Path, str]) -> None:
    _, _, public, url = setup
    result = runner.invoke(app, ["verify", "--source", url, "--public-key", str(public)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("OK; 300 events in 6 batches")
    keyring = str(public.parent)
    result = runner.invoke(
        app, ["verify", "--source", url, "--keyring", keyring, "--deep", "--jobs", "1"]
    )
    assert result.exit_code == 0, result.output


def _batch(root: Path, i: int) -> str:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.avro"))[i]


@pytest.mark.parametrize(
    "tamper",
    [
        "flip",
        "delete-batch",
        "swap",
        "delete-manifest",
        "edit-manifest",
        "delete-checkpoint",
        "edit-checkpoint",
    ],
)
@pytest.mark.integration  # verify/prove/import emit the read's audit event (issue 12)
def test_tampering_fails_with_the_object_named(
    setup: tuple[Path, Path, Path, str], tamper: str
) -> None:
    root, _, public, url = setup
    key = _batch(root, 2)
    checkpoints = sorted(p for p in (root / "checkpoints").rglob("*.json"))
    if tamper == "flip":
        data = bytearray((root / key).read_bytes())
        data[-40] ^= 0x80
        (root / key).write_bytes(bytes(data))
    elif tamper == "delete-batch":
        (root / key).unlink()
    elif tamper == "swap":
        other = _batch(root, 3)
        a, b = (root / key).read_bytes(), (root / other).read_bytes()
        (root / key).write_bytes(b)
        (root / other).write_bytes(a)
    elif tamper == "delete-manifest":
        (root / layout.manifest_key(key)).unlink()
    elif tamper == "edit-manifest":
        key = layout.manifest_key(key)
        path = root / key
        path.write_bytes(path.read_bytes().replace(b'"count":50', b'"count":49'))
    elif tamper == "delete-checkpoint":
        checkpoints[0].unlink()
        key = checkpoints[0].relative_to(root).as_posix()
    else:
        key = checkpoints[0].relative_to(root).as_posix()
        checkpoints[0].write_bytes(checkpoints[0].read_bytes().replace(b"import", b"imp0rt", 1))
    result = runner.invoke(app, ["verify", "--source", url, "--public-key", str(public)])
    assert result.exit_code == 1, result.output
    problems = result.output.splitlines()[:-1]
    assert any(key in line for line in problems), result.output
    assert result.output.splitlines()[-1].startswith("FAILED:")


@pytest.mark.integration  # verify/prove/import emit the read's audit event (issue 12)
def test_wrong_public_key_fails(setup: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    _, _, _, url = setup
    runner.invoke(app, ["keys", "generate", "--out", str(tmp_path / "other")])
    other = next((tmp_path / "other").glob("*.pub.pem"))
    result = runner.invoke(app, ["verify", "--source", url, "--public-key", str(other)])
    assert result.exit_code == 1
    assert "not in the keyring" in result.output


@pytest.mark.integration  # verify/prove/import emit the read's audit event (issue 12)
def test_prove_and_verify_proof(
    setup: tuple[Path, Path, Path, str], tmp_path: Path, events_file: Path
) -> None:
    _, _, public, url = setup
    event_id = orjson.loads(events_file.read_bytes().splitlines()[77])["event_id"]
    proof_file = tmp_path / "proof.json"
    result = runner.invoke(app, ["prove", event_id, "--source", url, "--out", str(proof_file)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify-proof", str(proof_file), "--public-key", str(public)])
    assert result.exit_code == 0, result.output
    assert "offset 77" in result.output
    proof = orjson.loads(proof_file.read_bytes())
    proof["index"] += 1
    proof_file.write_bytes(orjson.dumps(proof))
    result = runner.invoke(app, ["verify-proof", str(proof_file), "--public-key", str(public)])
    assert result.exit_code == 1
    assert "FAILED" in result.output
    result = runner.invoke(app, ["prove", "nope", "--source", url])
    assert result.exit_code == 1


def test_key_options_are_exclusive(setup: tuple[Path, Path, Path, str]) -> None:
    _, _, public, url = setup
    result = runner.invoke(app, ["verify", "--source", url])
    assert result.exit_code == 2
    result = runner.invoke(
        app,
        ["verify", "--source", url, "--public-key", str(public), "--keyring", str(public.parent)],
    )
    assert result.exit_code == 2
