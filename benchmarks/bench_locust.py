"""Locust scenarios against a bare FastHttpUser on the same fast static target, same run; and events/s of
the batch scenario against the reference endpoint, with where its bottleneck is.

Budget (DESIGN.md): the ``capture.py`` scenario reaches >= 90% of the requests/s of a bare FastHttpUser
that posts one fixed body (``benchmarks/bare_locustfile.py``).  The target is the no-op ASGI app on
uvicorn + httptools + uvloop (``bench_server.py --target noop``), pinned to CPU 0; Locust runs headless
pinned to CPU 1, the same users and duration for both, in interleaved rounds (the median ratio counts).
Requests/s come from Locust's ``--csv`` stats; the CPU time Locust spent per request is printed too, the
steadier figure on a busy machine.  The scenario's first chunks are prepared before each run, as
``capture-harness load`` does, and its generator process (:mod:`harness.load.supply`, which inherits the
Locust process's CPU) makes the rest, so the comparison is of what a task costs (take a ready request, send
it, check the reply, write the ledger) with the supply running beside it.

Then ``capture-harness load --scenario batch`` runs (pinned to CPU 1) against the reference endpoint
(pinned to CPU 0); its summary gives events/s, and the CPU time each process used over the middle of the
run (``/proc/<pid>/stat``) says which side is the bottleneck: the one near a full core.

    python benchmarks/bench_locust.py [--seconds 10] [--users 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.load import supply
from harness.server.process import ServeProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_server import _start  # the no-op ASGI target, pinned to CPU 0

BUDGET = 0.90
SEED = 20260105
API_KEY = "phc_benchmark"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    rps: float
    locust_cpu: float
    """Share of a core the Locust process used in the middle of the run (near 1.0: Locust is the bottleneck)."""
    target_cpu: float

    @property
    def us_per_request(self) -> float:
        return self.locust_cpu / self.rps * 1e6


def _locust(locustfile: Path, url: str, target_pid: int, users: int, seconds: int, workdir: Path,
            extra: list[str]) -> Measured:
    """One headless Locust run pinned to CPU 1: its aggregated requests/s from the ``--csv`` stats, and the
    CPU both processes used over the middle of the run."""
    prefix = workdir / locustfile.stem
    command = ["taskset", "-c", "1", sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
               "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url,
               "--csv", str(prefix), "--only-summary", "--exit-code-on-error", "1", *extra]
    log_path = workdir / f"{locustfile.stem}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        time.sleep(2.0)  # imports, users spawned
        before = (time.monotonic(), _cpu_seconds(process.pid), _cpu_seconds(target_pid))
        time.sleep(max(1.0, seconds - 2.5))
        after = (time.monotonic(), _cpu_seconds(process.pid), _cpu_seconds(target_pid))
        status = process.wait(timeout=seconds + 120)
    if status != 0:
        tail = log_path.read_text()[-3000:]
        raise RuntimeError(f"{locustfile.name}: Locust exited {status}; see {log_path}:\n{tail}")
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        row = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    if int(row["Failure Count"]):
        raise RuntimeError(f"{locustfile.name}: {row['Failure Count']} failed requests")
    wall = after[0] - before[0]
    return Measured(float(row["Requests/s"]), (after[1] - before[1]) / wall, (after[2] - before[2]) / wall)


def scenario_vs_bare(args: argparse.Namespace, workdir: Path) -> list[tuple[Measured, Measured]]:
    """Rounds of (bare, capture.py), interleaved, so drift on a shared machine hits both alike."""
    process, url = _start("noop", str(workdir / "unused.sqlite3"))
    bare_file, scenario_file = HERE / "bare_locustfile.py", ROOT / "locustfiles" / "capture.py"
    cache = workdir / "corpus"
    rounds = []
    try:
        warm = _locust(bare_file, url, process.pid, args.users, 3, workdir, [])
        print(f"warm-up: {warm.rps:,.0f} req/s", file=sys.stderr)
        for _ in range(args.rounds):
            supply.prepare(cache, "capture", SEED, 0, API_KEY)  # claimed (and removed) by the run's supply
            bare = _locust(bare_file, url, process.pid, args.users, args.seconds, workdir, [])
            scenario = _locust(scenario_file, url, process.pid, args.users, args.seconds, workdir,
                               ["--capture-seed", str(SEED), "--capture-api-key", API_KEY,
                                "--capture-report-dir", str(workdir / "capture-report"),
                                "--capture-corpus-dir", str(cache)])
            if "traffic generator is behind" in (workdir / "capture.log").read_text():
                print("note: the capture scenario's users waited for its traffic generator", file=sys.stderr)
            rounds.append((bare, scenario))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rounds


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime (fields 14 and 15 of stat)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _find_locust(load_pid: int) -> int | None:
    for child in _children(load_pid):
        try:
            if b"locust" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        except OSError:
            pass
    return None


def batch_events(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """``capture-harness load --scenario batch`` (pinned to CPU 1) against the reference endpoint (pinned to
    CPU 0): events/s from its summary, and the CPU each process used over the middle of the run."""
    report = workdir / "batch-report"
    with ServeProcess(db=workdir / "batch.sqlite3", prefix=("taskset", "-c", "0")) as server:
        load = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-m", "harness.cli", "load", "--url",
                                 server.url, "--scenario", "batch", "-u", str(args.users), "-t",
                                 f"{args.seconds}s", "--seed", str(SEED), "--report-dir", str(report)],
                                cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        locust = None
        while locust is None and load.poll() is None:  # after the corpus is generated
            locust = _find_locust(load.pid)
            time.sleep(0.05)
        if locust is None:
            raise RuntimeError(f"Locust never started; see {report / 'locust.log'}")
        time.sleep(2.0)
        before = (time.monotonic(), _cpu_seconds(server.process.pid), _cpu_seconds(locust))
        time.sleep(max(1.0, args.seconds - 2.5))
        after = (time.monotonic(), _cpu_seconds(server.process.pid), _cpu_seconds(locust))
        load.wait(timeout=args.seconds + 300)
    summary = json.loads((report / "summary.json").read_text())
    if summary["failures"] or summary["delivery"]["lost"]:
        raise RuntimeError(f"the batch run had failures or lost events: {summary['broken_thresholds']}")
    wall = after[0] - before[0]
    return {"events_per_s": summary["events_per_s"], "rps": summary["rps"], "stored": summary["delivery"]["stored"],
            "server_cpu": (after[1] - before[1]) / wall, "locust_cpu": (after[2] - before[2]) / wall, "window_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seconds", type=int, default=10, help="length of each Locust run (default 10)")
    parser.add_argument("--users", type=int, default=20, help="Locust users in every run (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved (bare, capture.py) pairs (default 3)")
    args = parser.parse_args()
    if not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        sys.exit("bench_locust needs taskset (util-linux) and two CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rounds = scenario_vs_bare(args, workdir)
        print(f"no-op ASGI target (uvicorn + httptools + uvloop) on CPU 0, Locust on CPU 1, {args.users} users, "
              f"{args.seconds}s a run")
        for i, (bare, scenario) in enumerate(rounds, 1):
            print(f"  round {i}: bare {bare.rps:>7,.0f} req/s ({bare.locust_cpu:.0%} CPU, {bare.us_per_request:.1f} "
                  f"us/req)   capture.py {scenario.rps:>7,.0f} req/s ({scenario.locust_cpu:.0%} CPU, "
                  f"{scenario.us_per_request:.1f} us/req)   ratio {scenario.rps / bare.rps:.3f}")
        ratio = statistics.median(scenario.rps / bare.rps for bare, scenario in rounds)
        cpu_ratio = statistics.median(bare.us_per_request / scenario.us_per_request for bare, scenario in rounds)
        bare_rps = statistics.median(bare.rps for bare, _ in rounds)
        scenario_rps = statistics.median(scenario.rps for _, scenario in rounds)
        print(f"bare FastHttpUser, one fixed body: {bare_rps:>8,.0f} req/s (median)")
        print(f"locustfiles/capture.py:            {scenario_rps:>8,.0f} req/s (median)  ratio {ratio:.3f} "
              f"(CPU per request: {cpu_ratio:.3f})  budget {BUDGET:.2f}: {'ok' if ratio >= BUDGET else 'BELOW BUDGET'}")
        if min(m.locust_cpu for pair in rounds for m in pair) < 0.9:
            print("  note: Locust had less than 90% of its core in some run (a busy machine): the CPU-per-request "
                  "ratio is the steadier figure")
        batch = batch_events(args, workdir)
    print(f"locustfiles/batch.py vs the reference endpoint: {batch['events_per_s']:>8,.0f} events/s "
          f"({batch['rps']:,.0f} req/s, {batch['stored']:,} events stored)")
    print(f"  CPU over the middle {batch['window_s']:.1f}s: reference endpoint {batch['server_cpu']:.0%} of a core, "
          f"Locust {batch['locust_cpu']:.0%} of a core")
    side = "the reference endpoint" if batch["server_cpu"] >= batch["locust_cpu"] else "Locust (the load generator)"
    busiest = max(batch["server_cpu"], batch["locust_cpu"])
    idle = "" if busiest >= 0.85 else f" (but only {busiest:.0%} busy: neither side saturated)"
    print(f"  bottleneck: {side}{idle}")


if __name__ == "__main__":
    main()
