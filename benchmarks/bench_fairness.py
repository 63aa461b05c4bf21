"""A big body never holds up other clients (issue 14): a second client's latency during each big request.

``capture-harness serve`` runs in a subprocess on 127.0.0.1.  A "small" client sends single events to
``/i/v0/e/`` in a loop over one keep-alive connection; first alone (its baseline), then while each big
body is sent from another thread: 100,000 empty objects as plain JSON to ``/batch/`` (400), the gzip of
2,000,000 empty objects (400), a valid 50,000-event batch (200, stored).  For each it prints the small
client's p50/p99 while the big request was in flight, the ratio of that p99 to the baseline p99, and the
big request's status and duration.  Budget: the small client's p99 stays under 50 ms.

    python benchmarks/bench_fairness.py [--baseline-s 2]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

from harness.server.process import ServeProcess

TOKEN = "phc_fairness"
BUDGET_P99_MS = 50.0
SINGLE = orjson.dumps({"event": "$pageview", "distinct_id": "user-1", "token": TOKEN,
                       "properties": {"$current_url": "https://app.example.com/"}})


def big_bodies() -> list[tuple[str, bytes, dict[str, str]]]:
    empty = b"[" + b",".join([b"{}"] * 100_000) + b"]"
    bomb = gzip.compress(b"[" + b",".join([b"{}"] * 2_000_000) + b"]", 9)
    events = [{"event": "$pageview", "distinct_id": f"user-{i}", "properties": {"n": i, "$lib": "bench"}}
              for i in range(50_000)]
    valid = orjson.dumps({"api_key": TOKEN, "batch": events})
    return [(f"100k empty objects ({len(empty) / 1024:.0f} KB plain)", empty, {"Content-Type": "application/json"}),
            (f"gzip of 2M empty objects ({len(bomb) / 1024:.0f} KB)", bomb,
             {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
            (f"valid 50k-event batch ({len(valid) / 1024 / 1024:.1f} MB)", valid, {"Content-Type": "application/json"})]


def small_client(host: str, port: int, stop: threading.Event, latencies: list[tuple[float, float]]) -> None:
    """Single events in a loop; each (send time, latency in s)."""
    connection = http.client.HTTPConnection(host, port, timeout=120)
    while not stop.is_set():
        started = time.perf_counter()
        connection.request("POST", "/i/v0/e/", SINGLE, {"Content-Type": "application/json"})
        reply = connection.getresponse()
        reply.read()
        assert reply.status == 200, reply.status
        latencies.append((started, time.perf_counter() - started))
    connection.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def measure(server: ServeProcess, seconds: float | None, big: tuple[str, bytes, dict[str, str]] | None) -> dict[str, float]:
    stop, latencies = threading.Event(), []  # type: ignore[var-annotated]
    client = threading.Thread(target=small_client, args=(server.host, server.port, stop, latencies))
    client.start()
    time.sleep(0.3)  # the small client's loop is warm before the window opens
    window_start = time.perf_counter()
    result: dict[str, float] = {}
    if big is None:
        time.sleep(seconds or 2.0)
    else:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=600)
        connection.request("POST", "/batch/", big[1], big[2])
        reply = connection.getresponse()
        reply.read()
        result.update(status=reply.status, big_s=time.perf_counter() - window_start)
        connection.close()
    window_end = time.perf_counter()
    stop.set()
    client.join()
    during = [latency for sent, latency in latencies if window_start <= sent <= window_end]
    result.update(n=len(during), p50=percentile(during, 0.50), p99=percentile(during, 0.99),
                  max=max(during) * 1000, mean=statistics.fmean(during) * 1000)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-s", type=float, default=2.0)
    args = parser.parse_args()
    bodies = big_bodies()
    failed = False
    with tempfile.TemporaryDirectory() as workdir, ServeProcess(db=Path(workdir) / "events.sqlite3") as server:
        base = measure(server, args.baseline_s, None)
        print(f"baseline (single events alone): n={base['n']:.0f} p50={base['p50']:.2f} ms p99={base['p99']:.2f} ms")
        for big in bodies:
            got = measure(server, None, big)
            ok = got["p99"] < BUDGET_P99_MS
            failed |= not ok
            print(f"{big[0]}: answered {got['status']:.0f} in {got['big_s']:.2f} s; small client during it: "
                  f"n={got['n']:.0f} p50={got['p50']:.2f} ms p99={got['p99']:.2f} ms max={got['max']:.1f} ms "
                  f"(p99 {got['p99'] / base['p99']:.1f}x baseline) {'ok' if ok else 'OVER'} < {BUDGET_P99_MS:.0f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
