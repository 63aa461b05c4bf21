"""The ``v1`` scenario against a bare FastHttpUser on the same fast target, same run (DESIGN.md: a scenario
reaches >= 90% of a bare user's requests/s, goal 95%).

The bare user posts one fixed v1 request of the corpus (a posthog-python batch of about the corpus's mean
size, its own headers) and reads nothing; the scenario is plain ``locust -f locustfiles/v1.py``: ready
requests from the seeded supply, every answer read per event (:mod:`harness.load.v1_answers`: the results
checked against the request's uuids with the judge's schema, each event settled in the ledger), resends
queued.  A static answer cannot serve here: a v1 200 must key every request uuid, so any fixed body fails
every check and the run would measure failure reporting.  The target is therefore the least a v1 endpoint
can be: an ASGI app on uvicorn + httptools + uvloop (``harness.server.runner``) that inflates the body when
compressed, finds its uuids with a regular expression and answers ``ok`` for each, echoing
``PostHog-Request-Id``; ``--retry-every N`` makes it answer ``retry`` for every Nth event, with
``Retry-After: 1``, to price the resend path as well.  The target runs pinned to CPU 0, Locust (and the
scenario's traffic generator, which inherits the pin) on CPU 1; rounds interleave bare and scenario runs
and the median ratio counts.  The CPU each run used on CPU 1 per request is printed too, the steadier figure
on a busy machine, and the target's own CPU share, to show it was not the bottleneck.

    python benchmarks/bench_locust_v1.py [--seconds 10] [--users 20] [--rounds 3] [--retry-every 0]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_locust import API_KEY, SEED, Measured, _cpu_seconds, _figures, _locust  # the v0 comparison's runner

from harness.load import corpus, supply

BUDGET = 0.90
UUID = re.compile(rb'"uuid":"([0-9a-f-]{36})"')
BARE = '''
"""A bare FastHttpUser posting one fixed v1 request (written by bench_locust_v1.py)."""
import json
from pathlib import Path
from locust import FastHttpUser, task

REQUEST = json.loads(Path(__file__).with_suffix(".json").read_text())
BODY = bytes.fromhex(REQUEST["body"])


class BareV1(FastHttpUser):
    @task
    def post(self) -> None:
        self.client.post("/i/v1/analytics/events", data=BODY, headers=REQUEST["headers"], name="bare v1")
'''


def _target(retry_every: int) -> None:
    """Serve the ok-echo v1 app in this process, pinned to CPU 0 (run as a subprocess)."""
    os.sched_setaffinity(0, {0})
    from harness.server import runner

    async def echo(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = dict(scope["headers"])
        encoding = headers.get(b"content-encoding")
        if encoding:
            body = zlib.decompress(body, 31 if encoding == b"gzip" else zlib.MAX_WBITS)
        uuids = UUID.findall(body)
        retried = [bool(retry_every) and i % retry_every == retry_every - 1 for i in range(len(uuids))]
        answer = b'{"results":{' + b",".join(b'"%s":{"result":"%s"}' % (u, b"retry" if r else b"ok")
                                             for u, r in zip(uuids, retried)) + b"}}"
        out = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode()),
               (b"posthog-request-id", headers.get(b"posthog-request-id", b""))]
        out += [(b"retry-after", b"1")] if any(retried) else []
        await send({"type": "http.response.start", "status": 200, "headers": out})
        await send({"type": "http.response.body", "body": answer})

    runner.serve(echo, "127.0.0.1", 0)


def _start_target(retry_every: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(retry_every)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    match = re.search(r"http://\S+", process.stdout.readline())
    if not match:
        process.kill()
        raise RuntimeError("the target did not start")
    return process, match.group(0)


def _bare_locustfile(workdir: Path) -> Path:
    """The bare user's locustfile and its request: a posthog-python identity batch near the corpus's mean size."""
    cases = corpus.generate_chunk("v1", SEED, 0, 0, API_KEY)
    mean = statistics.mean(len(case.uuids) for case in cases)
    case = min((c for c in cases if c.name == "v1 posthog-python identity"), key=lambda c: abs(len(c.uuids) - mean))
    path = workdir / "bare_v1.py"
    path.write_text(BARE)
    path.with_suffix(".json").write_bytes(orjson.dumps({"headers": case.request.headers,
                                                        "body": case.request.body.hex()}))
    print(f"bare body: {len(case.uuids)} events, {len(case.request.body):,} bytes (corpus mean {mean:.1f} events)",
          file=sys.stderr)
    return path


def _run(locustfile: Path, url: str, args: argparse.Namespace, workdir: Path, target: int,
         extra: list[str]) -> tuple[Measured, float]:
    """One run, and the share of a core the target used over it."""
    start, before = time.monotonic(), _cpu_seconds(target)
    measured = _locust(locustfile, url, args.users, args.seconds, workdir, extra)
    return measured, (_cpu_seconds(target) - before) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seconds", type=int, default=10, help="length of each Locust run (default 10)")
    parser.add_argument("--users", type=int, default=20, help="Locust users in every run (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved (bare, v1.py) rounds (default 3)")
    parser.add_argument("--retry-every", type=int, default=0, metavar="N",
                        help="the target answers retry for every Nth event of a request (default 0: never)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return _target(args.serve)
    if not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        sys.exit("bench_locust_v1 needs taskset (util-linux) and two CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare_file, cache = _bare_locustfile(workdir), workdir / "corpus"
        process, url = _start_target(args.retry_every)
        rounds = []
        try:
            for _ in range(args.rounds):
                bare = _run(bare_file, url, args, workdir, process.pid, [])
                supply.prepare(cache, "v1", SEED, 0, API_KEY)  # claimed (and removed) by the run's supply
                scenario = _run(ROOT / "locustfiles" / "v1.py", url, args, workdir, process.pid,
                                ["--capture-seed", str(SEED), "--capture-api-key", API_KEY,
                                 "--capture-report-dir", str(workdir / "report"), "--capture-corpus-dir", str(cache)])
                if "traffic generator is behind" in (workdir / "v1.log").read_text():
                    print("note: the v1 users waited for the traffic generator", file=sys.stderr)
                rounds.append((bare, scenario))
        finally:
            process.terminate()
            process.wait(timeout=30)
    _report(args, rounds)


def _report(args: argparse.Namespace, rounds: list[tuple[tuple[Measured, float], tuple[Measured, float]]]) -> None:
    answers = f"retry for every {args.retry_every}th event" if args.retry_every else "ok for every event"
    print(f"v1 echo target ({answers}) on CPU 0, Locust on CPU 1, {args.users} users, {args.seconds}s a run")
    for i, ((bare, bare_target), (v1, v1_target)) in enumerate(rounds, 1):
        print(f"  round {i}: bare {_figures(bare)}, target {bare_target:.0%} CPU")
        print(f"           v1.py {_figures(v1)}, target {v1_target:.0%} CPU  ratio {v1.rps / bare.rps:.3f}")
    ratio = statistics.median(v1.rps / bare.rps for (bare, _), (v1, _) in rounds)
    cpu_ratio = statistics.median(bare.us_per_request / v1.us_per_request for (bare, _), (v1, _) in rounds)
    print(f"locust -f locustfiles/v1.py vs a bare FastHttpUser: ratio {ratio:.3f} by requests/s, {cpu_ratio:.3f} "
          f"by CPU per request (medians)  budget {BUDGET:.2f}: {'ok' if ratio >= BUDGET else 'BELOW BUDGET'}")
    if max(target for pair in rounds for _, target in pair) >= 0.85:
        print("  note: the target used 85% or more of its core in some run: it, not Locust, may have set the pace")


if __name__ == "__main__":
    main()
