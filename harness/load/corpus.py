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

**What a chunk is made of.**  The generator shares its Locust process's core, so what it spends a request is
taken from the users (the budget compares Locust and generator with a bare FastHttpUser,
``benchmarks/bench_locust.py``).  Planning every request with the model cost ~28 us a ``capture`` request (~116
``mixed``, ~240 ``batch``): the model ~8, gzip ~13 per gzip body, the case and its uuids ~8.  So a chunk is
:data:`SHAPES` request *shapes*, planned by the model as before (the scenario's mix of names, paths, encodings
and bodies), each sent ``CHUNK_SIZE // SHAPES`` times in turn: a shape is serialized once with placeholder
uuids and cut into a :class:`harness.load.splice.Template`, and each copy gets its events' own derived uuids
(:func:`harness.load.eventids.stamp`, one small format a uuid) joined into the text; a gzip body is spliced
from pieces compressed once around stored deflate blocks holding the uuids (valid gzip, CRC and length
computed over the copy's text); base64 and form bodies, which hold no fixed bytes around a uuid, are encoded
again from the stamped text.  Measured alone (``generate_chunk`` + :func:`encode`, CPU per request, before ->
after in the same invocation, two runs): ``capture`` 28-33 -> 8.4-8.9 us, ``mixed`` 116-136 -> 27-36,
``batch`` 241-282 -> 47-61, ``browser`` 93-98 -> 29-35; in ``bench_locust.py`` runs the generator's share of
a ``capture`` request fell from 33-37 to 12-13 us, and the run's CPU per request from 152-162 to 132-146
us.  Half of what is left is the shapes (~34 us each: model, serialization, compression; a ``capture`` request
costs ~6.5 us with 50 shapes, ~5.5 with 20) and half the copies (~4 us: uuids, join or splice, the case, the
chunk's metadata).  What it gives up: a chunk repeats each shape's properties, distinct ids and timestamps ten
times (every event still has its own uuid, which is what the ledger and deduplication tell events apart by),
and a spliced gzip body is larger than gzip of its text: ~5% for a ``capture`` event, ~17% for a posthog-js
flush, ~45% for a 20-event posthog-node batch, whose events compress to ~60 bytes each while a stored uuid
costs 46.  ``v1`` (:data:`PLANNED_EACH`) still plans every request.  Rejected: stamping templates in the load
process (it would re-encode gzip there), and one pool for the whole run (shapes repeated for hours; a chunk's
shapes come from its own seed, so every chunk is still reproducible alone and a seed replays the same bytes)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from harness.checks import Case, case_for
from harness.generate.choices import SeededChoices
from harness.generate.traffic import Traffic
from harness.load import eventids, scenarios, splice, v1_answers
from harness.spec.body import events_of
from harness.spec.jsontext import to_json
from harness.wire import WireRequest, expected_outcome

CHUNK_SIZE = 1000
"""Requests per chunk."""
SHAPES = 100
"""Distinct requests the model plans per chunk (a divisor of :data:`CHUNK_SIZE`): each goes out
``CHUNK_SIZE // SHAPES`` times with other uuids."""
PLANNED_EACH = frozenset({"v1"})
"""Scenarios whose every request is planned by the model: a v1 body's encoding (gzip, deflate or none) is
its SDK's headers' (:func:`harness.load.v1_answers.request_case`), which :mod:`harness.load.splice` does
not build, and a v1 request holds ~50 events, so the model's cost per event is what it pays anyway."""
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
    if scenario in PLANNED_EACH:
        return _planned_each(traffic, scenario, stamp, chunk)
    shapes = [_Shape(scenarios.plan(traffic, scenario)) for _ in range(SHAPES)]
    cases, index = [], 0
    for n in range(CHUNK_SIZE):
        case = shapes[n % SHAPES].case(stamp, chunk, index)
        index += len(case.uuids)
        cases.append(case)
    return cases


def _planned_each(traffic: Traffic, scenario: str, stamp: eventids.ChunkStamp, chunk: int) -> list[Case]:
    """A chunk of :data:`PLANNED_EACH` traffic: every request planned by the model, its uuids restamped."""
    cases, index = [], 0
    for _ in range(CHUNK_SIZE):
        planned = scenarios.plan(traffic, scenario)
        events = _uuid_events(planned.body)
        for event, uuid in zip(events, eventids.stamp([eventids.prefix(e["uuid"]) for e in events], stamp, index)):
            event["uuid"] = uuid
        case = v1_answers.request_case(planned.name, planned.path, dict(planned.headers), planned.body)
        cases.append(replace(case, event_span=(chunk, index, len(events))))
        index += len(events)
    return cases


def _uuid_events(body: Any) -> list[dict[str, Any]]:
    """The events of ``body`` that carry a uuid: the ones the ledger counts.  Only the load corpus restamps
    them: ``capture-harness generate`` keeps the model's uuids."""
    return [event for event in events_of(body)
            if isinstance(event, dict) and isinstance(event.get("uuid"), str) and event["uuid"]]


class _Shape:
    """One planned v0 request, encoded once (:func:`harness.checks.case_for`) with a placeholder uuid in each
    event, and the :class:`~harness.load.splice.Template` that makes copies of it with other uuids."""

    __slots__ = ("_body", "expect", "name", "prefixes", "request")

    def __init__(self, planned: scenarios.Planned) -> None:
        events = _uuid_events(planned.body)
        self.prefixes = [eventids.prefix(event["uuid"]) for event in events]
        # uuids of chunk 0 of stream 0: their place bits are unique within the body, so each is found exactly once
        holes = eventids.stamp(self.prefixes, eventids.chunk_stamp(0, 0, 0), 0)
        for event, hole in zip(events, holes):
            event["uuid"] = hole
        status = expected_outcome(planned.encoding, planned.path)
        assert status is not None
        text, query, spliced = to_json(planned.body), dict(planned.query), planned.encoding in GZIPPED
        self.name, self.expect = planned.name, status
        # a gzip encoding's method, target and headers do not depend on the payload: skip gzipping this one
        self.request = case_for(planned.name, b"" if spliced else text, path=planned.path, encoding=planned.encoding,
                                expect=status, query=query).request
        template = splice.Template(text, [hole.encode() for hole in holes], gzip=spliced)
        if spliced:
            self._body = template.gzip
        elif planned.encoding == "json":
            self._body = template.text
        else:  # base64 and forms: no fixed bytes around the uuids, so encoded again each time
            self._body = lambda values: case_for(planned.name, template.text(values), path=planned.path,
                                                 encoding=planned.encoding, expect=status, query=query).request.body

    def case(self, stamp: eventids.ChunkStamp, chunk: int, index: int) -> Case:
        """The copy whose events are ``index``, ``index + 1``, ... of chunk ``chunk`` (whose ``stamp`` it is)."""
        uuids = eventids.stamp(self.prefixes, stamp, index)
        request = self.request
        body = self._body([uuid.encode() for uuid in uuids])
        return Case(self.name, WireRequest(request.method, request.target, dict(request.headers), body), self.expect,
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
