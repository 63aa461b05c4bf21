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
does not depend on the run's length.  Choice and why (measured on a 2-core machine): one core generates a chunk
of ``mixed`` in ~0.03 s (``capture`` 0.008 s, ``batch`` 0.05 s for ~50 events a request: see below), i.e.
~30,000 requests/s, several times what one Locust process sends; decoding a chunk written to disk takes ~5 ms
(~20 ms for ``batch``), orjson metadata plus slicing.  So each Locust process gets one generator *process*
(never a greenlet: generation in the load process stalled its users ~0.1 s per 1,000 requests and put the
stalls in the latencies), which keeps at most :data:`harness.load.supply.WINDOW` chunks ahead in a spool
folder; the load process reads a chunk, deletes it, and the generator makes the next one.  Disk and memory are
bounded by WINDOW x one chunk (mixed: ~4 MB a chunk, batch ~13 MB), whatever ``-t`` and the rate;
``capture-harness load`` makes only the first chunks of each stream before Locust starts
(:data:`harness.load.supply.PREPARED`), so a 24 h run starts as fast as a 30 s one
(``benchmarks/bench_first_request.py``: first request 0.98 s after the command for -t 30s, 1h and 24h alike;
the old pre-generation of a 10 min run was not a third done after 200 s).  Since any chunk is regenerated from
the seed, no corpus is cached any more (the old ``.capture-harness/corpus/`` cache of whole corpora reached
gigabytes).

**What a chunk is made of.** The generator shares its Locust process's core, so what it spends a request is taken
from the users (the budget compares Locust and generator with a bare FastHttpUser, ``benchmarks/bench_locust.py``).
Planning every request with the model cost ~28 us a ``capture`` request (~116 ``mixed``, ~240 ``batch``): the model
~8, gzip ~13 per gzip body, the case and its uuids ~8. So a chunk is :data:`SHAPES` request *shapes*, planned by
the model as before (the scenario's mix of names, paths, encodings and bodies), each sent ``CHUNK_SIZE // SHAPES``
times in turn: a shape is serialized once with placeholder uuids and cut into a
:class:`harness.load.splice.Template`, and each copy gets its events' own derived uuids
(:func:`harness.load.eventids.stamp`, one small format a uuid) joined into the text; a gzip body is spliced from
pieces compressed once around stored deflate blocks holding the uuids (valid gzip, CRC and length computed over the
copy's text); base64 and form bodies, which hold no fixed bytes around a uuid, are encoded again from the stamped
text.  Measured alone (``generate_chunk`` + :func:`encode`, CPU per request, before -> after in the same
invocation, two runs): ``capture`` 28-33 -> 8.4-8.9 us, ``mixed`` 116-136 -> 27-36, ``batch`` 241-282 -> 47-61,
``browser`` 93-98 -> 29-35; in ``bench_locust.py`` runs the generator's share of a ``capture`` request fell from
33-37 to 12-13 us, and the run's CPU per request from 152-162 to 132-146 us.  Half of what is left is the shapes
(~34 us each: model, serialization, compression; a ``capture`` request costs ~6.5 us with 50 shapes, ~5.5 with 20)
and half the copies (~4 us: uuids, join or splice, the case, the chunk's metadata). What it gives up: a chunk
repeats each shape's properties, distinct ids and timestamps ten times (every event still has its own uuid, which
is what the ledger and deduplication tell events apart by), and a spliced gzip body is larger than gzip of its
text, since each hole is stored uncompressed: a shape is made for its chunk, so only the last :data:`VARYING` hex
digits of each uuid are a hole (the rest compressed with the text), a hole costing ~10 bytes where a whole stored
uuid cost 46: +3% for a ``capture`` event (was +8%), +14% for a posthog-js flush (+33%), +28% for a posthog-node
batch (+73%), measured over one chunk (seed 7, chunk 3) against ``gzip.compress`` of the same text.  ``v1`` is made
the same way: a shape is its SDK's headers and body, the body's JSON text joined for no ``Content-Encoding``,
spliced for ``gzip`` and for ``deflate`` (a zlib stream around the same deflate pieces:
:meth:`harness.load.splice.Template.zlib`), and each copy also gets its own ``PostHog-Request-Id``: the SDK's v4 or
v7 bits stamped with a place above every event's (:data:`REQUEST_IDS`), so it stays valid, of its SDK's version and
unique in the run.  Planning every v1 request cost ~310 us (302-321 over five rounds, ~31 events a request: the
model ~220, compression and the case the rest); from shapes it costs 67-87 us (median ratio 0.24,
``benchmarks/bench_corpus_v1.py``), ~43 of it the shapes (model ~22, serialization and compression) and ~29 the
copies (~9 formatting the uuids). In ``bench_locust_v1.py`` (a busy machine) the generator's share of a v1 request
fell from ~320 to 86-90 us and the run's CPU per request from ~470 to 258-270 us.  Its spliced bodies grow more
than v0's, its events compressing to little more than a hole's ~10 bytes: +30% over plain gzip for posthog-node's
~10-event batches (~730 -> ~950 bytes), +39% over ``zlib.compress`` for posthog-python's deflate and +49% for its
gzip (~50 events); +73%, +87% and +102% when whole uuids were stored.  Rejected: stamping templates in the load
process (it would re-encode gzip there), and one pool for the whole run (shapes repeated for hours; a chunk's
shapes come from its own seed, so every chunk is still reproducible alone and a seed replays the same bytes)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from harness.checks import Case, case_for
from harness.generate.choices import SeededChoices
from harness.generate.traffic import Traffic
from harness.load import eventids, scenarios, splice
from harness.spec.body import events_of
from harness.spec.jsontext import to_json
from harness.wire import WireRequest, expected_outcome

CHUNK_SIZE = 1000
"""Requests per chunk."""
SHAPES = 100
"""Distinct requests the model plans per chunk (a divisor of :data:`CHUNK_SIZE`): each goes out
``CHUNK_SIZE // SHAPES`` times with other uuids."""
REQUEST_IDS = 1 << (eventids.INDEX_BITS - 1)
"""Where a chunk's v1 ``PostHog-Request-Id`` values sit among its places: request ``n``'s at index
``REQUEST_IDS + n``, above every event's (a chunk holds at most 1,000 requests of 100 events, fewer than
2^17), so a request id is unique in the run and never an event's uuid."""
VARYING = 5
"""The hex digits in which the uuids of one chunk's events differ: the last 5 (20 bits: the 18 of the index
and 2 of the chunk), so a shape, made for its chunk, is cut only there (:class:`harness.load.splice.Template`'s
``vary``); the rest of each uuid is fixed text, compressed with the rest of the body."""
GZIPPED = frozenset({"gzip-header", "gzip-query", "gzip-magic"})
"""The v0 encodings (:mod:`harness.wire`) whose body is gzip of the JSON text, with a zero mtime: spliced."""

DEFAULT_CACHE_DIR = Path(".capture-harness") / "corpus"
"""Where plain ``locust -f`` keeps its supply's spool folders (removed when it ends; ``capture-harness
load`` uses a temporary folder)."""
FAILED_BODIES_DIR = Path(".capture-harness") / "failed-bodies"
"""Where load runs write the bodies of failed requests that a curl command reads back (they hold the key)."""


def _chunk_seed(scenario: str, seed: int, stream: int, chunk: int) -> int:
    digest = hashlib.sha256(f"{scenario}:{seed}:{stream}:{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def generate_chunk(scenario: str, seed: int, stream: int, chunk: int, api_key: str) -> list[Case]:
    """Chunk ``chunk`` of a request stream, generated from scratch: :data:`SHAPES` requests planned by the
    model, each sent ``CHUNK_SIZE // SHAPES`` times in turn with the uuids of its events' places
    (:mod:`harness.load.eventids`) stamped into its encoded body."""
    traffic = Traffic(SeededChoices(_chunk_seed(scenario, seed, stream, chunk)), token=api_key)
    stamp = eventids.chunk_stamp(eventids.run_tag(scenario, seed), stream, chunk)
    shapes = [_Shape(scenarios.plan(traffic, scenario), stamp) for _ in range(SHAPES)]
    cases, index = [], 0
    for n in range(CHUNK_SIZE):
        case = shapes[n % SHAPES].case(stamp, chunk, index, n)
        index += len(case.uuids)
        cases.append(case)
    if index > REQUEST_IDS:
        raise ValueError(f"chunk {chunk} of {scenario!r} holds {index:,} events, more than the places below its "
                         f"request ids ({REQUEST_IDS:,})")
    return cases


def _uuid_events(body: Any) -> list[dict[str, Any]]:
    """The events of ``body`` that carry a uuid: the ones the ledger counts.  Only the load corpus restamps
    them: ``capture-harness generate`` keeps the model's uuids."""
    return [event for event in events_of(body)
            if isinstance(event, dict) and isinstance(event.get("uuid"), str) and event["uuid"]]


class _Shape:
    """One planned request, encoded once with a placeholder uuid in each event, and the
    :class:`~harness.load.splice.Template` that makes copies of it with other uuids (and, for v1, another
    ``PostHog-Request-Id``)."""

    __slots__ = ("_body", "_request_id", "expect", "name", "prefixes", "request")

    def __init__(self, planned: scenarios.Planned, stamp: eventids.ChunkStamp) -> None:
        events = _uuid_events(planned.body)
        self.prefixes = [eventids.prefix(event["uuid"]) for event in events]
        # this chunk's uuids of events 0, 1, ...: unique within the body, so each is found exactly once; a copy's
        # differ from them only in their last VARYING digits
        holes = eventids.stamp(self.prefixes, stamp, 0)
        for event, hole in zip(events, holes):
            event["uuid"] = hole
        self.name, self._request_id = planned.name, ""
        text, cut = to_json(planned.body), [hole.encode() for hole in holes]
        if planned.encoding == "v1":
            self._v1(planned, text, cut)
        else:
            self._v0(planned, text, cut)

    def _v0(self, planned: scenarios.Planned, text: bytes, holes: list[bytes]) -> None:
        """The wire encoding's request: gzip spliced, JSON joined, base64 and forms encoded again each time."""
        status = expected_outcome(planned.encoding, planned.path)
        assert status is not None
        query, spliced = dict(planned.query), planned.encoding in GZIPPED
        self.expect = status
        # a gzip encoding's method, target and headers do not depend on the payload: skip gzipping this one
        self.request = case_for(planned.name, b"" if spliced else text, path=planned.path, encoding=planned.encoding,
                                expect=status, query=query).request
        template = splice.Template(text, holes, compress=spliced, vary=VARYING)
        if spliced:
            self._body = template.gzip
        elif planned.encoding == "json":
            self._body = template.text
        else:  # base64 and forms: no fixed bytes around the uuids, so encoded again each time
            self._body = lambda values: case_for(planned.name, template.text(values), path=planned.path,
                                                 encoding=planned.encoding, expect=status, query=query).request.body

    def _v1(self, planned: scenarios.Planned, text: bytes, holes: list[bytes]) -> None:
        """The SDK's request (its own headers, expecting 200), its body as its ``Content-Encoding`` says: plain
        JSON, gzip or zlib (posthog-python's ``deflate`` is ``zlib.compress``), the latter two spliced."""
        headers = dict(planned.headers)
        encoding = headers.get("Content-Encoding")
        if encoding not in (None, "gzip", "deflate"):
            raise ValueError(f"{planned.name}: no spliced body for Content-Encoding {encoding!r}")
        template = splice.Template(text, holes, compress=encoding is not None, vary=VARYING)
        self._body = template.gzip if encoding == "gzip" else template.zlib if encoding == "deflate" else template.text
        self.expect = 200
        self._request_id = eventids.prefix(headers["PostHog-Request-Id"])
        self.request = WireRequest("POST", planned.path, headers, b"")

    def case(self, stamp: eventids.ChunkStamp, chunk: int, index: int, n: int) -> Case:
        """Request ``n`` of chunk ``chunk`` (whose ``stamp`` it is), whose events are ``index``, ``index + 1``, ...
        A v1 copy's ``PostHog-Request-Id`` is the SDK's (its v4 or v7 bits kept) stamped with the place
        :data:`REQUEST_IDS` + ``n``: a valid uuid of that SDK's version, its own in the run."""
        uuids = eventids.stamp(self.prefixes, stamp, index)
        request = self.request
        headers = dict(request.headers)
        if self._request_id:
            headers["PostHog-Request-Id"] = eventids.stamp((self._request_id,), stamp, REQUEST_IDS + n)[0]
        body = self._body([uuid[-VARYING:].encode() for uuid in uuids])
        return Case(self.name, WireRequest(request.method, request.target, headers, body), self.expect,
                    uuids=tuple(uuids), event_span=(chunk, index, len(uuids)))


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
