"""Scrubber throughput on one core, on ~1 KB generated events.

(a) the ceiling of the sanitizer's hot path: fastavro decode -> scrub (detect and treat free
    text, HMAC-SHA256 pseudonyms, truncate IPs) -> fastavro encode, in a tight loop;
(b) the offline command's path: JSON form loads -> scrub -> dumps.
Also, per scan engine, (a) again, and the decode -> HMAC -> encode baseline without a scan.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import time
from collections.abc import Callable
from typing import Any, cast

import fastavro

from pipeline.events import jsonform
from pipeline.events.schemas import AUDIT_EVENT, parsed_schema, raw_schema
from pipeline.produce.generator import EventGenerator
from pipeline.scrub import Scrubber, dev_keys, load_policy

# benign operational text, so events are ~1 KB like production ones (the generator's are
# ~350 B in Avro); it contains digits, dots, colons and versions but nothing to redact
_PAD = (
    "upstream billing-api v2.14.3 answered 200 in 38 ms after 2 retries; cache hit ratio "
    "0.93, queue depth 17, shard 4/16, build 2026.11.01-rc2, region eu-central-1, "
    "request size 18342 bytes, response size 5120 bytes, feature flags new-checkout=on "
    "dark-mode=off, worker pid 48213 on node ip-internal-7, deadline 2026-11-01T10:00:05Z, "
    "trace sampled=true, retries exhausted=false, circuit state closed, pool 12/64 in use, "
    "tls 1.3 with x25519, http/2 stream 1337, compression ratio 3.7, gc pause 4 ms"
)


def _events(n: int) -> list[dict[str, Any]]:
    docs = list(itertools.islice(EventGenerator(seed=7).events(), n))
    for doc in docs:
        doc["details"] = {**doc["details"], "message": _PAD}
    return docs


def _decode(raw: bytes, writer: Any) -> dict[str, Any]:
    return cast(dict[str, Any], fastavro.schemaless_reader(io.BytesIO(raw), writer, None))


def _timed(n: int, step: Callable[[int], object]) -> float:
    """Events per CPU second of ``step`` over ``n`` items (process time: one core)."""
    cpu0 = time.process_time()
    for i in range(n):
        step(i)
    return n / max(time.process_time() - cpu0, 1e-9)


def bench_scrub(n: int) -> dict[str, float]:
    schema = parsed_schema(AUDIT_EVENT)
    writer = fastavro.parse_schema(raw_schema(AUDIT_EVENT))
    docs = _events(n)
    encoded: list[bytes] = []
    for doc in docs:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, jsonform.from_json(schema, doc))
        encoded.append(buf.getvalue())
    lines = [jsonform.dumps(schema, jsonform.from_json(schema, d)) for d in docs]
    policy = load_policy()
    keys = dev_keys()
    mac = hmac.new(keys.active_key, digestmod=hashlib.sha256)

    def avro_path(scrub: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[int], object]:
        def step(i: int) -> object:
            datum = _decode(encoded[i], writer)
            out = io.BytesIO()
            fastavro.schemaless_writer(out, writer, scrub(datum))
            return out

        return step

    def hmac_only(datum: dict[str, Any]) -> dict[str, Any]:
        m = mac.copy()
        m.update(datum["actor"]["id"].encode())
        datum["actor"]["id"] = "ps:dev:" + m.hexdigest()[:32]
        return datum

    result: dict[str, float] = {
        "events": float(n),
        "event_bytes_avg": sum(len(e) for e in encoded) / n,
        "json_bytes_avg": sum(len(line) for line in lines) / n,
        "baseline_decode_hmac_encode_per_s": _timed(n, avro_path(hmac_only)),
    }
    for engine in ("hyperscan", "re2", "re"):
        scrubber = Scrubber(policy, keys, engine=engine)
        result[f"ceiling_{engine}_per_s"] = _timed(n, avro_path(scrubber.scrub))
    scrubber = Scrubber(policy, keys)
    datums = [_decode(e, writer) for e in encoded]
    result["scrub_only_per_s"] = _timed(n, lambda i: scrubber.scrub(datums[i]))
    result["ceiling_per_s"] = result[f"ceiling_{scrubber.scanner.name}_per_s"]
    result["offline_per_s"] = _timed(
        n, lambda i: jsonform.dumps(schema, scrubber.scrub(jsonform.loads(schema, lines[i])))
    )
    return result


if __name__ == "__main__":
    for key, value in bench_scrub(20_000).items():
        print(f"{key:40} {value:>12,.1f}")
