"""Memory and disk of the delivery ledger per event sent, and reconciliation throughput, against the old one.

Budget (DESIGN.md): "disk and memory of a load run bounded ...; ledger a few bytes per event".  The ledger
(:mod:`harness.load.ledger`) is driven directly, as a Locust process would drive it: requests of 1..100
events (uniform), 1,000 requests a chunk, 99.9% of them answered 200, the rest 503.  Measured, per event
sent:

- the load process's ledger memory (tracemalloc: what it still holds at the end, and its peak) and the size
  of its file after close;
- reconciliation's peak memory against a streamed store of every acknowledged event but 0.1% (lost);
- the cost of one ``record`` call (the hot path), and reconciliation throughput in stored uuids/s.

The baseline, measured in the same invocation at a smaller count (its sets grow with every event), is the old
representation: one JSON line per request with every uuid text (``ledger-<pid>.jsonl``), reconciled by loading
all of them into sets and the store into a Counter.  Its code is kept here, as it was, for the comparison.

    python benchmarks/bench_ledger.py [--events N] [--baseline-events N]

(About 5 minutes at the default 10 million events on a busy 2-core machine, most of it tracemalloc tracing
the streamed store's strings; ``--events 1000000`` takes half a minute.)
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from harness.load import corpus, eventids, ledger

SCENARIO, SEED = "mixed", 1
TAG = eventids.run_tag(SCENARIO, SEED)
HIGH = "019b8d63-1bfc-7"
"""The model part of every synthetic uuid (its time and version), as a v7 would have it."""

Span = tuple[int, int, int]


def workload(events: int) -> Iterator[tuple[int, Span]]:
    """(status, span) of each request until ``events`` events were sent."""
    rng = random.Random(7)
    chunk = index = requests = sent = 0
    while sent < events:
        count = min(rng.randint(1, 100), events - sent)
        if requests == corpus.CHUNK_SIZE:
            chunk, index, requests = chunk + 1, 0, 0
        yield (200 if rng.random() < 0.999 else 503), (chunk, index, count)
        index, requests, sent = index + count, requests + 1, sent + count


def text(stream: int, chunk: int, index: int) -> str:
    """A derived uuid's text, quickly: the same as :func:`eventids.derive` of a v7 with :data:`HIGH`."""
    low = (0x2 << 62) | (TAG << 38) | (chunk << 18) | index
    return f"{HIGH}{stream:03x}-{low >> 48:04x}-{low & 0xFFFFFFFFFFFF:012x}"


def stored(events: int) -> Iterator[str]:
    """The synthetic store: every acknowledged event but one in a thousand, in the order sent."""
    for status, (chunk, first, count) in workload(events):
        if status == 200:
            for index in range(first, first + count):
                if (chunk * 7919 + index) % 1000:
                    yield text(0, chunk, index)


def traced(action: Callable[[], Any]) -> tuple[Any, int, int]:
    """``action()``, and the memory it left allocated and its peak, in bytes."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = action()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, current, peak


# --- the new ledger ---------------------------------------------------------------------------------------


def record_all(directory: Path, events: int) -> ledger.LedgerWriter:
    writer = ledger.LedgerWriter(directory, SCENARIO, SEED, 0)
    for status, span in workload(events):
        writer.record(status, span)
    return writer


def record_cost_us(events: int) -> float:
    """Microseconds per ``record`` call, the workload's own cost taken off."""
    spans = list(workload(events))
    with tempfile.TemporaryDirectory() as directory:
        writer = ledger.LedgerWriter(Path(directory), SCENARIO, SEED, 0)
        started = time.perf_counter()
        for status, span in spans:
            writer.record(status, span)
        recorded = time.perf_counter() - started
        started = time.perf_counter()
        for status, span in spans:
            pass
        empty = time.perf_counter() - started
        writer.close()
    return (recorded - empty) / len(spans) * 1e6


# --- the old ledger, as it was ----------------------------------------------------------------------------


def old_write(directory: Path, events: int) -> Path:
    path = directory / "ledger-1.jsonl"
    with path.open("wb") as handle:
        for status, (chunk, first, count) in workload(events):
            uuids = [text(0, chunk, index) for index in range(first, first + count)]
            handle.write(orjson.dumps({"status": status, "uuids": uuids}) + b"\n")
    return path


def old_reconcile(path: Path, stored_uuids: Iterator[str]) -> tuple[int, int, int]:
    sent: set[str] = set()
    acknowledged: set[str] = set()
    for line in path.read_bytes().splitlines():
        entry = orjson.loads(line)
        sent.update(entry["uuids"])
        if 200 <= entry["status"] < 300:
            acknowledged.update(entry["uuids"])
    store = Counter(stored_uuids)
    lost = sorted(acknowledged - store.keys())
    return len(sent), len(acknowledged), len(lost)


# --- the comparison ---------------------------------------------------------------------------------------


def per_event(events: int, directory: Path) -> dict[str, float]:
    """The new ledger's figures per event sent (bytes), and reconcile's throughput."""
    writer, held, peak = traced(lambda: record_all(directory, events))
    writer.close()
    disk = writer.path.stat().st_size
    started = time.perf_counter()
    result, _, reconcile_peak = traced(lambda: ledger.reconcile(directory, stored(events)))
    assert result.sent == events and result.lost > 0, result
    return {"held": held / events, "peak": peak / events, "disk": disk / events,
            "reconcile_peak": reconcile_peak / events, "lost": result.lost,
            "reconcile_s": time.perf_counter() - started}


def old_per_event(events: int, directory: Path) -> dict[str, float]:
    path = old_write(directory, events)
    _, _, reconcile_peak = traced(lambda: old_reconcile(path, stored(events)))
    return {"disk": path.stat().st_size / events, "reconcile_peak": reconcile_peak / events}


def throughput(events: int, directory: Path) -> tuple[float, float]:
    """Stored uuids/s reconciled from the same in-memory list: the new ledger and the old sets."""
    texts = list(stored(events))
    (directory / "new").mkdir()
    record_all(directory / "new", events).close()
    started = time.perf_counter()
    ledger.reconcile(directory / "new", iter(texts))
    new = len(texts) / (time.perf_counter() - started)
    path = old_write(directory, events)
    started = time.perf_counter()
    old_reconcile(path, iter(texts))
    return new, len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--baseline-events", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as new_dir, tempfile.TemporaryDirectory() as old_dir, \
            tempfile.TemporaryDirectory() as speed_dir:
        old = old_per_event(args.baseline_events, Path(old_dir))
        new = per_event(args.events, Path(new_dir))
        new_rate, old_rate = throughput(min(args.events, 1_000_000), Path(speed_dir))
    print(f"events sent: {args.events:,} (baseline: {args.baseline_events:,}), lost {new['lost']:,.0f}")
    print(f"load process ledger memory: {new['held']:.4f} bytes/event held, {new['peak']:.4f} peak "
          "(old: a bounded buffer, but the disk below)")
    print(f"ledger on disk:            {new['disk']:.4f} bytes/event  old {old['disk']:.1f}  "
          f"ratio {old['disk'] / new['disk']:,.0f}x smaller")
    print(f"reconcile peak memory:     {new['reconcile_peak']:.3f} bytes/event  old {old['reconcile_peak']:.1f}  "
          f"ratio {old['reconcile_peak'] / new['reconcile_peak']:,.0f}x smaller")
    print(f"record(): {record_cost_us(min(args.events, 2_000_000)):.2f} us a request")
    print(f"reconcile: {new_rate:,.0f} stored uuids/s  old {old_rate:,.0f}  ratio {new_rate / old_rate:.2f} "
          f"({args.events:,} events reconciled in {new['reconcile_s']:.1f} s, synthetic store included)")


if __name__ == "__main__":
    main()
