"""CPU per request of making a ``v1`` chunk: the shapes the corpus makes now against the old every-request
planning, in the same invocation, and the size of the spliced bodies against plain compression.

``new``: :func:`harness.load.corpus.generate_chunk` + :func:`~harness.load.corpus.encode` (100 shapes, each copied
ten times with stamped uuids, gzip and zlib spliced).  ``old``: the path it replaced, kept here only to be
measured: every request planned by the model, its uuids restamped, the body compressed again
(:func:`harness.load.v1_answers.wire_body`).  Rounds alternate old and new on other chunks; the medians count.
Then, per encoding, the mean wire size of a chunk's spliced bodies against the same text compressed plainly
(``gzip.compress`` / ``zlib.compress``, what the SDKs send).

    python benchmarks/bench_corpus_v1.py [--rounds 5] [--chunks 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from harness.checks import Case
from harness.generate.choices import SeededChoices
from harness.generate.traffic import Traffic
from harness.load import corpus, eventids, scenarios, v1_answers
from harness.spec.v1.validation import decode_body
from harness.wire import WireRequest

KEY, SEED = "phc_bench_corpus_v1", 3


def old_chunk(seed: int, stream: int, chunk: int) -> list[Case]:
    """The old ``_planned_each`` chunk of ``v1``: :data:`corpus.CHUNK_SIZE` requests, each planned and encoded."""
    traffic = Traffic(SeededChoices(corpus._chunk_seed("v1", seed, stream, chunk)), token=KEY)
    stamp = eventids.chunk_stamp(eventids.run_tag("v1", seed), stream, chunk)
    cases, index = [], 0
    for _ in range(corpus.CHUNK_SIZE):
        planned = scenarios.plan(traffic, "v1")
        events = corpus._uuid_events(planned.body)
        for event, uuid in zip(events, eventids.stamp([eventids.prefix(e["uuid"]) for e in events], stamp, index)):
            event["uuid"] = uuid
        headers = dict(planned.headers)
        request = WireRequest("POST", planned.path, headers,
                              v1_answers.wire_body(planned.body, headers.get("Content-Encoding")))
        case = Case(planned.name, request, 200, uuids=tuple(event["uuid"] for event in planned.body["batch"]))
        cases.append(replace(case, event_span=(chunk, index, len(events))))
        index += len(events)
    return cases


def new_chunk(seed: int, stream: int, chunk: int) -> list[Case]:
    return corpus.generate_chunk("v1", seed, stream, chunk, KEY)


def cpu_us_per_request(make: object, chunks: range) -> tuple[float, float]:
    """(CPU us per request, events per request) of making and encoding ``chunks`` of stream 0."""
    assert callable(make)
    started, events = time.process_time(), 0
    for chunk in chunks:
        cases = make(SEED, 0, chunk)
        corpus.encode(cases)
        events += sum(len(case.uuids) for case in cases)
    requests = len(chunks) * corpus.CHUNK_SIZE
    return (time.process_time() - started) * 1e6 / requests, events / requests


def sizes(cases: list[Case]) -> None:
    """Mean body size per encoding: spliced against plain compression of the same text."""
    by: dict[str, list[tuple[int, int]]] = {}
    for case in cases:
        encoding = case.request.headers.get("Content-Encoding")
        document = decode_body(case.request.body, encoding, "$", frozenset())
        compressed = v1_answers.wire_body(document, encoding)
        by.setdefault(f"{case.name} ", []).append((len(case.request.body), len(compressed)))
    for name, pairs in sorted(by.items()):
        spliced, plain = statistics.fmean(pair[0] for pair in pairs), statistics.fmean(pair[1] for pair in pairs)
        print(f"  {name:<30} {len(pairs):>4} bodies  spliced {spliced:>8,.0f} B  plain {plain:>8,.0f} B  "
              f"{spliced / plain - 1:+6.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=2, help="chunks per round and path")
    args = parser.parse_args()
    new_chunk(SEED, 0, 0)  # imports and caches warmed for both
    old_chunk(SEED, 0, 0)
    olds, news = [], []
    for n in range(args.rounds):
        chunks = range(1 + n * args.chunks, 1 + (n + 1) * args.chunks)
        old, old_events = cpu_us_per_request(old_chunk, chunks)
        new, new_events = cpu_us_per_request(new_chunk, chunks)
        olds.append(old)
        news.append(new)
        print(f"round {n + 1}: old {old:6.1f} us/request ({old_events:.1f} events)  new {new:6.1f} us/request "
              f"({new_events:.1f} events)  new/old {new / old:.3f}")
    old, new = statistics.median(olds), statistics.median(news)
    print(f"median: old {old:.1f} us/request, new {new:.1f} us/request, new/old {new / old:.3f} ({old / new:.1f}x)")
    print("body sizes (one chunk):")
    sizes(new_chunk(SEED, 0, 0))


if __name__ == "__main__":
    main()
