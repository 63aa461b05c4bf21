"""Throughput of `generate` against a baseline measured in the same run.

Budget (DESIGN.md): >= 100,000 valid events/s on one core, as JSONL.  Absolute rates drift on shared
machines, so the script also prints the ratio to a baseline loop that does the least any generator must
do: serialize a fixed, realistic event to a JSON line (orjson) the same number of times.

    python benchmarks/bench_generate.py [--events N]
"""

from __future__ import annotations

import argparse
import time

import orjson

from harness.generate import seeded
from harness.generate.traffic import BODY_KINDS

FIXED_EVENT = {
    "event": "$pageview", "distinct_id": "user_42", "uuid": "0194f3a2-7c1e-7d3a-9b2c-4e5f6a7b8c9d",
    "timestamp": "2026-01-05T09:00:00.123Z",
    "properties": {"$lib": "web", "$lib_version": "1.262.0", "$current_url": "https://app.example.com/pricing",
                   "$browser": "Chrome", "$os": "Mac OS X", "$device_type": "Desktop", "token": "phc_x"},
}


def baseline(events: int) -> float:
    started = time.perf_counter()
    sink = bytearray()
    for _ in range(events):
        sink += orjson.dumps(FIXED_EVENT) + b"\n"
    return events / (time.perf_counter() - started)


def generate(kind: str, events: int) -> float:
    started = time.perf_counter()
    sink = bytearray()
    for line in seeded.valid_lines(kind, events, seed=1, batch_size=50):
        sink += line.data + b"\n"
    return events / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    base = baseline(args.events)
    print(f"baseline (orjson of a fixed event): {base:>12,.0f} events/s")
    for kind in BODY_KINDS:
        rate = generate(kind, args.events)
        verdict = "ok" if rate >= 100_000 else "BELOW BUDGET"
        print(f"generate --kind {kind:<14} {rate:>12,.0f} events/s  ratio {rate / base:5.3f}  "
              f"budget 100,000: {verdict}")


if __name__ == "__main__":
    main()
