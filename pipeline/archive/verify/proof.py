"""Inclusion proofs: show one event is in the signed archive without handing over the rest.

A proof is a JSON object carrying the event's raw Avro body (``leaf``, base64), its position
(``index`` in a tree of ``tree_size`` leaves, i.e. offset ``first_offset + index``), the RFC 6962
audit path (hex sibling hashes, leaf to root), and the batch's manifest bytes with their Ed25519
signature. ``verify_proof`` needs only the public key: the signature makes the manifest's Merkle
root authentic, and the path connects the leaf to that root. ``event`` is the event in its JSON
form, for people; it is checked against the leaf when the local ``audit_event`` schema is the one
the manifest names.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import fastavro
from pydantic import ValidationError

from pipeline.archive.format import layout, merkle
from pipeline.archive.format.body import peek_id_ts, schema_sha256
from pipeline.archive.format.keys import Keyring
from pipeline.archive.format.manifest import Manifest
from pipeline.archive.format.ocf import read_ocf
from pipeline.archive.format.store import Store
from pipeline.errors import DeserializationError
from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema


def _event_json(body: bytes) -> dict[str, Any]:
    datum = fastavro.schemaless_reader(
        io.BytesIO(body), fastavro.parse_schema(raw_schema(AUDIT_EVENT)), None
    )
    assert isinstance(datum, dict)
    return jsonform.to_json(parsed_schema(AUDIT_EVENT), datum)


def prove(store: Store, event_id: str, topic: str | None = None) -> dict[str, Any] | None:
    """The inclusion proof of the first archived event with ``event_id``, or None."""
    prefix = f"{layout.EVENTS}{topic}/" if topic else layout.EVENTS
    needle = event_id.encode()
    for mkey in store.list(prefix):
        if not mkey.endswith(layout.MANIFEST_SUFFIX):
            continue
        okey = layout.object_key_of_manifest(mkey)
        data = store.get(okey)
        contents = read_ocf(data)
        if needle not in contents.data:  # cheap skip of batches that cannot hold it
            continue
        for index in range(contents.count):
            body = contents.body(index)
            if peek_id_ts(body)[0] != event_id:
                continue
            manifest_bytes = store.get(mkey)
            manifest = Manifest.model_validate_json(manifest_bytes)
            leaves = merkle.leaf_hashes(contents.data, contents.bounds)
            return {
                "version": 1,
                "kind": "inclusion-proof",
                "event_id": event_id,
                "topic": manifest.topic,
                "partition": manifest.partition,
                "offset": manifest.first_offset + index,
                "object_key": okey,
                "index": index,
                "tree_size": contents.count,
                "leaf": base64.b64encode(body).decode(),
                "leaf_hash": leaves[index].hex(),
                "path": [h.hex() for h in merkle.inclusion_proof(leaves, index)],
                "manifest": manifest_bytes.decode(),
                "manifest_signature": base64.b64encode(
                    store.get(layout.manifest_sig_key(okey))
                ).decode(),
                "event": _event_json(body),
            }
    return None


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} is not an integer")
    return value


def verify_proof(proof: dict[str, Any], keyring: Keyring) -> list[str]:
    """Problems with ``proof`` (empty if it proves its event is in the signed batch).

    Every field a caller may show is bound: ``event_id`` to the leaf, ``topic``, ``partition``,
    ``offset`` and ``object_key`` to the signed manifest (and the index), the leaf to the root."""
    try:
        version = proof.get("version")
        if type(version) is not int or version != 1 or proof.get("kind") != "inclusion-proof":
            return ["not a version 1 inclusion proof"]
        manifest_text = proof["manifest"]
        if not isinstance(manifest_text, str) or not isinstance(proof["path"], list):
            raise TypeError("manifest or path has the wrong type")
        manifest_bytes = manifest_text.encode()
        signature = base64.b64decode(proof["manifest_signature"], validate=True)
        body = base64.b64decode(proof["leaf"], validate=True)
        path = [bytes.fromhex(h) for h in proof["path"]]
        index, size = _int(proof["index"], "index"), _int(proof["tree_size"], "tree_size")
        event_id = proof["event_id"]
        if not isinstance(event_id, str):
            raise TypeError("event_id is not a string")
    except (KeyError, TypeError, ValueError, binascii.Error, UnicodeError) as exc:
        return [f"malformed proof: {type(exc).__name__}: {_short(str(exc))}"]
    try:
        manifest = Manifest.model_validate_json(manifest_bytes)
    except ValidationError:
        return ["the proof's manifest is not a valid manifest"]
    problems: list[str] = []
    reason = keyring.verify(manifest.key_id, manifest_bytes, signature)
    if reason:
        problems.append(f"manifest signature: {reason}")
    leaf = merkle.leaf_hash(body)
    if proof.get("leaf_hash") not in (None, leaf.hex()):
        problems.append("leaf_hash is not the hash of leaf")
    try:
        if peek_id_ts(body)[0] != event_id:
            problems.append("the leaf is not the event named by event_id")
    except DeserializationError:
        problems.append("the leaf is not an audit event")
    if size != manifest.count:
        problems.append(f"tree_size {size} is not the batch's {manifest.count} events")
    if not 0 <= index < manifest.count:
        problems.append(f"index {index} is outside the batch")
    claims = (proof.get("topic"), proof.get("partition"), proof.get("offset"))
    if any(isinstance(v, bool) for v in claims) or claims != (
        manifest.topic,
        manifest.partition,
        manifest.first_offset + index,
    ):
        problems.append("topic/partition/offset do not match the manifest and index")
    if proof.get("object_key") != manifest.object_key:
        problems.append("object_key is not the batch the signed manifest describes")
    if not merkle.verify_inclusion(leaf, index, size, path, bytes.fromhex(manifest.merkle_root)):
        problems.append("the path does not lead from the leaf to the signed Merkle root")
    if "event" in proof and schema_sha256(raw_schema(AUDIT_EVENT)) == manifest.schema_sha256:
        try:
            if _event_json(body) != proof["event"]:
                problems.append("'event' is not the decoded leaf")
        except Exception:  # fastavro raises many types on a corrupt body
            problems.append("the leaf does not decode as an audit event")
    return problems


def _short(text: str) -> str:
    """An exception's text, bounded (it may quote a piece of the hostile proof)."""
    return text[:80]
