"""Throughput of the reference endpoint against a no-op ASGI app on the same server stack, same run.

Budgets (DESIGN.md): ``/batch/`` with 100-event bodies >= 40,000 events/s stored on one core; single
events >= 70% of the requests/s the no-op app gets.  Each server runs in its own process pinned to CPU 0;
``wrk`` (Debian package ``wrk``) drives it from CPU 1 over keep-alive connections on 127.0.0.1.  The
events the store holds afterwards are counted, so "stored" is measured, not assumed.

    python benchmarks/bench_server.py [--seconds 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.generate import seeded

SINGLE_EVENT = {"event": "$pageview", "distinct_id": "user-1", "api_key": "phc_benchmark",
                "properties": {"$current_url": "https://app.example.com/", "$lib": "posthog-python"}}


def _target(kind: str, db: str) -> None:
    """Run one server in this process, pinned to CPU 0 (called as a subprocess)."""
    os.sched_setaffinity(0, {0})
    from harness.server import runner

    if kind == "noop":
        async def noop(scope, receive, send):  # type: ignore[no-untyped-def]
            if scope["type"] != "http":
                return
            while (await receive()).get("more_body"):
                pass
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")]})
            await send({"type": "http.response.body", "body": b'{"status":"Ok"}'})
        runner.serve(noop, "127.0.0.1", 0)
    else:
        from harness.server import CaptureApp, Store

        store = Store(db)
        runner.serve(CaptureApp(store), "127.0.0.1", 0, cleanup=store.close)


def _start(kind: str, db: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, __file__, "--target", kind, "--db", db], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://\S+", line)
    if not match:
        process.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return process, match.group(0)


JSON_HEADERS = {"Content-Type": "application/json"}


def wrk(url: str, path: str, body: bytes, seconds: int, connections: int,
        headers: dict[str, str] = JSON_HEADERS) -> float:
    """Requests/s of ``wrk`` (pinned to CPU 1) posting ``body`` with ``headers``; any non-2xx answer fails."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    result = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                             "-s", script.name, url + path], capture_output=True, text=True, check=True)
    os.unlink(script.name)
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"non-2xx answers during the benchmark:\n{result.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]


def _stored(db: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def _measure(kind: str, path: str, body: bytes, args: argparse.Namespace, workdir: Path,
             headers: dict[str, str] = JSON_HEADERS) -> tuple[float, int]:
    db = str(workdir / f"{kind}-{path.strip('/').replace('/', '_')}.sqlite3")
    process, url = _start(kind, db)
    try:
        wrk(url, path, body, 1, args.connections, headers)  # warm-up
        rate = wrk(url, path, body, args.seconds, args.connections, headers)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rate, (_stored(db) if kind == "capture" else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--target", choices=("noop", "capture"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.target:
        _target(args.target, args.db)
        return
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench_server needs wrk and taskset: apt-get install wrk util-linux")
    batch = next(seeded.valid_lines("batch", 100, seed=1, batch_size=100)).data
    single = json.dumps(SINGLE_EVENT).encode()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        noop_rate, _ = _measure("noop", "/i/v0/e/", single, args, workdir)
        single_rate, single_stored = _measure("capture", "/i/v0/e/", single, args, workdir)
        batch_rate, batch_stored = _measure("capture", "/batch/", batch, args, workdir)
    ratio = single_rate / noop_rate
    events = batch_rate * 100
    print(f"no-op ASGI app (uvicorn + httptools + uvloop): {noop_rate:>9,.0f} req/s")
    print(f"single events to /i/v0/e/:                    {single_rate:>9,.0f} req/s  ratio {ratio:.3f}  "
          f"budget 0.70: {'ok' if ratio >= 0.7 else 'BELOW BUDGET'}  ({single_stored:,} stored)")
    print(f"/batch/ with 100 events:                      {events:>9,.0f} events/s ({batch_rate:,.0f} req/s, "
          f"ratio to no-op req/s {batch_rate / noop_rate:.3f})  budget 40,000: "
          f"{'ok' if events >= 40_000 else 'BELOW BUDGET'}  ({batch_stored:,} stored)")


if __name__ == "__main__":
    main()
