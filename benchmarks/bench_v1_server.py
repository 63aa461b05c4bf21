"""Throughput of the reference endpoint's capture v1 route against its v0 ``/batch/``, same run.

Both bodies hold 100 generated events (v0: ``seeded.valid_lines("batch")``; v1: a posthog-python request
of :class:`harness.generate.v1.V1Traffic`, uncompressed), both stored.  Each server runs in its own process
pinned to CPU 0 (``bench_server.py``'s target); ``wrk`` drives it from CPU 1 over keep-alive connections,
resending the same body (capture does not deduplicate across requests, so every resend is stored).  The
store is counted afterwards, so "stored" is measured; the ratio v1/v0 is the figure to watch.

    python benchmarks/bench_v1_server.py [--seconds 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench_server import _measure  # the sibling benchmark's run of wrk against a fresh endpoint

from harness.generate import seeded
from harness.generate.choices import SeededChoices
from harness.generate.v1 import V1Traffic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench_v1_server needs wrk and taskset: apt-get install wrk util-linux")
    v0_body = next(seeded.valid_lines("batch", 100, seed=1, batch_size=100)).data
    v1 = V1Traffic(SeededChoices(1), sdk="python").request(100)
    v1["headers"].pop("Content-Encoding", None)
    v1_body = json.dumps(v1["body"]).encode()
    with tempfile.TemporaryDirectory() as tmp:
        v0_rate, v0_stored = _measure("capture", "/batch/", v0_body, args, Path(tmp))
        v1_rate, v1_stored = _measure("capture", "/i/v1/analytics/events", v1_body, args, Path(tmp), v1["headers"])
    print(f"v0 /batch/ with 100 events:                 {v0_rate * 100:>9,.0f} events/s ({v0_rate:,.0f} req/s, "
          f"{v0_stored:,} stored)")
    print(f"v1 /i/v1/analytics/events with 100 events:  {v1_rate * 100:>9,.0f} events/s ({v1_rate:,.0f} req/s, "
          f"{v1_stored:,} stored)  ratio v1/v0 {v1_rate / v0_rate:.3f}")


if __name__ == "__main__":
    main()
