"""Pre-generated, replayable load traffic: requests ready to send, in seeded chunks cached on disk.

Load tests never run the Hypothesis engine or even the traffic model inside a Locust task: a task only
takes the next ready request (bytes already encoded).  Requests come in chunks of
:data:`CHUNK_SIZE`; chunk ``n`` of a stream is generated from its own seed, so every chunk is
reproducible alone, and every event in it has a fresh uuid.  Each Locust process reads its own stream
(``stream`` = the worker index), so workers never send the same event.

Chunks are cached under ``cache_dir`` by scenario, seed, stream, chunk and API key (a line of JSON
metadata, then the raw bodies, so loading one costs milliseconds): a second run with the same seed
starts at once, and ``capture-harness load`` generates the chunks a run will need before Locust starts,
on every core, so that no task ever waits for the generator.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from harness.generate.choices import SeededChoices
from harness.generate.traffic import Traffic
from harness.load import scenarios
from harness.spec.body import events_of
from harness.wire import WireRequest, encode, expected_outcome

CHUNK_SIZE = 1000
"""Requests per chunk."""

DEFAULT_CACHE_DIR = Path(".capture-harness") / "corpus"
FAILED_BODIES_DIR = Path(".capture-harness") / "failed-bodies"
"""Where load runs write the bodies of failed requests that a curl command reads back (they hold the key)."""


@dataclass(frozen=True)
class ReadyRequest:
    """One request as it goes on the wire, with its stats name, expected status and event uuids."""

    name: str
    request: WireRequest
    expect_status: int
    uuids: tuple[str, ...]


def _chunk_seed(scenario: str, seed: int, stream: int, chunk: int) -> int:
    digest = hashlib.sha256(f"{scenario}:{seed}:{stream}:{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def generate_chunk(scenario: str, seed: int, stream: int, chunk: int, api_key: str) -> list[ReadyRequest]:
    """Chunk ``chunk`` of a request stream, generated from scratch."""
    traffic = Traffic(SeededChoices(_chunk_seed(scenario, seed, stream, chunk)), token=api_key)
    ready = []
    for _ in range(CHUNK_SIZE):
        planned = scenarios.plan(traffic, scenario)
        request = encode(orjson.dumps(planned.body), planned.encoding, planned.path)
        uuids = tuple(event["uuid"] for event in events_of(planned.body) if event.get("uuid"))
        status = expected_outcome(planned.encoding, planned.path)
        assert status is not None
        ready.append(ReadyRequest(planned.name, request, status, uuids))
    return ready


def _cache_path(cache_dir: Path, scenario: str, seed: int, stream: int, chunk: int, api_key: str) -> Path:
    key = hashlib.sha256(api_key.encode()).hexdigest()[:12]  # the key itself never appears in a file name
    return cache_dir / f"{scenario}-seed{seed}-stream{stream}-chunk{chunk}-key{key}.chunk"


def cached(scenario: str, seed: int, stream: int, chunk: int, api_key: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> bool:
    return _cache_path(cache_dir, scenario, seed, stream, chunk, api_key).is_file()


def load_chunk(scenario: str, seed: int, stream: int, chunk: int, api_key: str,
               cache_dir: Path = DEFAULT_CACHE_DIR) -> list[ReadyRequest]:
    """A chunk from the cache, generating (and caching) it when it is not there yet."""
    path = _cache_path(cache_dir, scenario, seed, stream, chunk, api_key)
    try:
        return _decode(path.read_bytes())
    except (OSError, ValueError, KeyError):
        pass
    ready = generate_chunk(scenario, seed, stream, chunk, api_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(_encode(ready))
    partial.replace(path)  # atomic: a concurrent reader sees the whole chunk or none
    return ready


def stream_requests(scenario: str, seed: int, stream: int, api_key: str, cache_dir: Path = DEFAULT_CACHE_DIR,
                    on_generate: Callable[[int], None] | None = None) -> Iterator[ReadyRequest]:
    """An endless stream of ready requests, chunk after chunk; ``on_generate(chunk)`` is called before a
    chunk that was not pre-generated has to be made on the spot."""
    chunk = 0
    while True:
        if on_generate is not None and not cached(scenario, seed, stream, chunk, api_key, cache_dir):
            on_generate(chunk)
        yield from load_chunk(scenario, seed, stream, chunk, api_key, cache_dir)
        chunk += 1


def _encode(ready: list[ReadyRequest]) -> bytes:
    """One JSON line of metadata, then the bodies back to back: loading is one parse and some slicing."""
    meta = [{"name": r.name, "method": r.request.method, "target": r.request.target, "headers": r.request.headers,
             "expect": r.expect_status, "uuids": r.uuids, "size": len(r.request.body)} for r in ready]
    return orjson.dumps(meta) + b"\n" + b"".join(r.request.body for r in ready)


def _decode(data: bytes) -> list[ReadyRequest]:
    head, _, bodies = data.partition(b"\n")
    ready, offset = [], 0
    for item in orjson.loads(head):
        end = offset + item["size"]
        request = WireRequest(item["method"], item["target"], item["headers"], bodies[offset:end])
        ready.append(ReadyRequest(item["name"], request, item["expect"], tuple(item["uuids"])))
        offset = end
    if offset != len(bodies):
        raise ValueError("truncated chunk")
    return ready
