"""Pre-generated, replayable load traffic: requests ready to send, in seeded chunks cached on disk.

Load tests never run the Hypothesis engine or even the traffic model inside a Locust task: a task only
takes the next ready request, a :class:`harness.checks.Case` (bytes already encoded, the expected status
and the event uuids beside them), sends it and checks the answer against that same case.  Requests come
in chunks of
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
from pathlib import Path

import orjson

from harness.checks import Case, case_for
from harness.generate.choices import SeededChoices
from harness.generate.traffic import Traffic
from harness.load import scenarios
from harness.wire import WireRequest, expected_outcome

CHUNK_SIZE = 1000
"""Requests per chunk."""

DEFAULT_CACHE_DIR = Path(".capture-harness") / "corpus"
FAILED_BODIES_DIR = Path(".capture-harness") / "failed-bodies"
"""Where load runs write the bodies of failed requests that a curl command reads back (they hold the key)."""


def _chunk_seed(scenario: str, seed: int, stream: int, chunk: int) -> int:
    digest = hashlib.sha256(f"{scenario}:{seed}:{stream}:{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def generate_chunk(scenario: str, seed: int, stream: int, chunk: int, api_key: str) -> list[Case]:
    """Chunk ``chunk`` of a request stream, generated from scratch."""
    traffic = Traffic(SeededChoices(_chunk_seed(scenario, seed, stream, chunk)), token=api_key)
    cases = []
    for _ in range(CHUNK_SIZE):
        planned = scenarios.plan(traffic, scenario)
        status = expected_outcome(planned.encoding, planned.path)
        assert status is not None
        cases.append(case_for(planned.name, planned.body, path=planned.path, encoding=planned.encoding,
                              expect=status))
    return cases


def _cache_path(cache_dir: Path, scenario: str, seed: int, stream: int, chunk: int, api_key: str) -> Path:
    key = hashlib.sha256(api_key.encode()).hexdigest()[:12]  # the key itself never appears in a file name
    return cache_dir / f"{scenario}-seed{seed}-stream{stream}-chunk{chunk}-key{key}.chunk"


def cached(scenario: str, seed: int, stream: int, chunk: int, api_key: str,
           cache_dir: Path = DEFAULT_CACHE_DIR) -> bool:
    return _cache_path(cache_dir, scenario, seed, stream, chunk, api_key).is_file()


def load_chunk(scenario: str, seed: int, stream: int, chunk: int, api_key: str,
               cache_dir: Path = DEFAULT_CACHE_DIR) -> list[Case]:
    """A chunk from the cache, generating (and caching) it when it is not there yet."""
    path = _cache_path(cache_dir, scenario, seed, stream, chunk, api_key)
    try:
        return _decode(path.read_bytes())
    except (OSError, ValueError, KeyError):
        pass
    cases = generate_chunk(scenario, seed, stream, chunk, api_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(_encode(cases))
    partial.replace(path)  # atomic: a concurrent reader sees the whole chunk or none
    return cases


def stream_requests(scenario: str, seed: int, stream: int, api_key: str, cache_dir: Path = DEFAULT_CACHE_DIR,
                    on_generate: Callable[[int], None] | None = None) -> Iterator[Case]:
    """An endless stream of ready requests, chunk after chunk; ``on_generate(chunk)`` is called before a
    chunk that was not pre-generated has to be made on the spot."""
    chunk = 0
    while True:
        if on_generate is not None and not cached(scenario, seed, stream, chunk, api_key, cache_dir):
            on_generate(chunk)
        yield from load_chunk(scenario, seed, stream, chunk, api_key, cache_dir)
        chunk += 1


def _encode(cases: list[Case]) -> bytes:
    """One JSON line of metadata, then the bodies back to back: loading is one parse and some slicing.  (A
    corpus case breaks no rule, so ``rule`` is not stored.)"""
    meta = [{"name": c.name, "method": c.request.method, "target": c.request.target, "headers": c.request.headers,
             "expect": c.expect_status, "uuids": c.uuids, "size": len(c.request.body)} for c in cases]
    return orjson.dumps(meta) + b"\n" + b"".join(c.request.body for c in cases)


def _decode(data: bytes) -> list[Case]:
    head, _, bodies = data.partition(b"\n")
    cases, offset = [], 0
    for item in orjson.loads(head):
        end = offset + item["size"]
        request = WireRequest(item["method"], item["target"], item["headers"], bodies[offset:end])
        cases.append(Case(item["name"], request, item["expect"], uuids=tuple(item["uuids"])))
        offset = end
    if offset != len(bodies):
        raise ValueError("truncated chunk")
    return cases
