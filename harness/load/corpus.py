"""Replayable load traffic: requests ready to send, in seeded chunks, made while the run goes.

Load tests never run the Hypothesis engine or even the traffic model inside a Locust task: a task only
takes the next ready request, a :class:`harness.checks.Case` (bytes already encoded, the expected status
and the event uuids beside them), sends it and checks the answer against that same case.  Requests come
in chunks of :data:`CHUNK_SIZE`; chunk ``n`` of a stream is generated from its own seed
(scenario, seed, stream, chunk), so every chunk is reproducible alone, a seeded run replays the same
traffic, and every event in it has a fresh uuid.  Each Locust process reads its own stream (``stream`` =
the worker index), so workers never send the same event.  That uuid is restamped with the event's place
(run tag, stream, chunk, index: :mod:`harness.load.eventids`) and each case carries its events' span
(chunk, first index, count), so the delivery ledger records a request as a range of bits, never as strings.

**The supply** (:mod:`harness.load.supply`) makes the chunks lazily, at the pace they are sent, so its cost
does not depend on the run's length.  Choice and why (measured on a 2-core machine): one core generates a
chunk of ``mixed`` in ~0.10 s (``capture`` 0.03 s, ``batch`` 0.20 s for ~50 events a request), i.e.
~10,000 requests/s, about what one Locust process sends; decoding a chunk written to disk takes ~5 ms
(~20 ms for ``batch``), orjson metadata plus slicing.  So each Locust process gets one generator
*process* (never a greenlet: generation in the load process stalled its users ~0.1 s per 1,000 requests
and put the stalls in the latencies), which keeps at most :data:`harness.load.supply.WINDOW` chunks ahead
in a spool folder; the load process reads a chunk, deletes it, and the generator makes the next one.
Disk and memory are bounded by WINDOW x one chunk (mixed: ~4 MB a chunk, batch ~13 MB), whatever ``-t``
and the rate; ``capture-harness load`` makes only the first chunks of each stream before Locust starts
(:data:`harness.load.supply.PREPARED`), so a 24 h run starts as fast as a 30 s one
(``benchmarks/bench_first_request.py``: first request 0.98 s after the command for -t 30s, 1h and 24h alike;
the old pre-generation of a 10 min run was not a third done after 200 s).  The templates
alternative (a bounded pool of encoded bodies stamped with fresh uuids at send time) would cost no
generator, but stamping gzip/base64 bodies means re-encoding them in the load process, and the pool
repeats its shapes; seeded chunks keep every request distinct and reproducible.  Since any chunk is
regenerated from the seed, no corpus is cached any more (the old ``.capture-harness/corpus/`` cache
of whole corpora reached gigabytes).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from harness.checks import Case, case_for
from harness.generate.choices import SeededChoices
from harness.generate.traffic import Traffic
from harness.load import eventids, scenarios, v1_answers
from harness.spec.body import events_of
from harness.wire import WireRequest, expected_outcome

CHUNK_SIZE = 1000
"""Requests per chunk."""

DEFAULT_CACHE_DIR = Path(".capture-harness") / "corpus"
"""Where plain ``locust -f`` keeps its supply's spool folders (removed when it ends; ``capture-harness
load`` uses a temporary folder)."""
FAILED_BODIES_DIR = Path(".capture-harness") / "failed-bodies"
"""Where load runs write the bodies of failed requests that a curl command reads back (they hold the key)."""


def _chunk_seed(scenario: str, seed: int, stream: int, chunk: int) -> int:
    digest = hashlib.sha256(f"{scenario}:{seed}:{stream}:{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def generate_chunk(scenario: str, seed: int, stream: int, chunk: int, api_key: str) -> list[Case]:
    """Chunk ``chunk`` of a request stream, generated from scratch, its event uuids restamped with their
    place (:func:`_restamp`)."""
    traffic = Traffic(SeededChoices(_chunk_seed(scenario, seed, stream, chunk)), token=api_key)
    tag = eventids.run_tag(scenario, seed)
    cases, index = [], 0
    for _ in range(CHUNK_SIZE):
        planned = scenarios.plan(traffic, scenario)
        first, index = index, _restamp(planned.body, tag, stream, chunk, index)
        if planned.headers:  # v1: the SDK's own headers and Content-Encoding, no v0 encoding
            case = v1_answers.request_case(planned.name, planned.path, dict(planned.headers), planned.body)
        else:
            status = expected_outcome(planned.encoding, planned.path)
            assert status is not None
            case = case_for(planned.name, planned.body, path=planned.path, encoding=planned.encoding,
                            expect=status, query=dict(planned.query))
        cases.append(replace(case, event_span=(chunk, first, index - first)))
    return cases


def _restamp(body: Any, tag: int, stream: int, chunk: int, index: int) -> int:
    """Give the events of ``body`` (in place, before it is encoded) the uuids :mod:`harness.load.eventids`
    derives from their place, numbered from ``index``; the next free index.  Only the load corpus does this:
    ``capture-harness generate`` keeps the model's uuids."""
    for event in events_of(body):
        if isinstance(event, dict) and isinstance(event.get("uuid"), str) and event["uuid"]:
            event["uuid"] = eventids.derive(event["uuid"], tag, stream, chunk, index)
            index += 1
    return index


def encode(cases: list[Case]) -> bytes:
    """One JSON line of metadata, then the bodies back to back: loading is one parse and some slicing.  (A
    corpus case breaks no rule, so ``rule`` is not stored.)"""
    meta = [{"name": c.name, "method": c.request.method, "target": c.request.target, "headers": c.request.headers,
             "expect": c.expect_status, "uuids": c.uuids, "span": c.event_span, "size": len(c.request.body)}
            for c in cases]
    return orjson.dumps(meta) + b"\n" + b"".join(c.request.body for c in cases)


def decode(data: bytes) -> list[Case]:
    head, _, bodies = data.partition(b"\n")
    cases, offset = [], 0
    for item in orjson.loads(head):
        end = offset + item["size"]
        request = WireRequest(item["method"], item["target"], item["headers"], bodies[offset:end])
        span = item["span"]
        cases.append(Case(item["name"], request, item["expect"], uuids=tuple(item["uuids"]),
                          event_span=None if span is None else (span[0], span[1], span[2])))
        offset = end
    if offset != len(bodies):
        raise ValueError("truncated chunk")
    return cases
