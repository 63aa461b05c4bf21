"""Locust scenarios against a bare FastHttpUser on the same fast static target, same run; and events/s of
the batch scenario against the reference endpoint, with where its bottleneck is.

Budget (DESIGN.md): the ``capture`` scenario reaches >= 90% of the requests/s of a bare FastHttpUser that
posts one fixed body (``benchmarks/bare_locustfile.py``), both through plain ``locust -f
locustfiles/capture.py`` and through ``capture-harness load --scenario capture``.  The target is the no-op
ASGI app on uvicorn + httptools + uvloop (``bench_server.py --target noop``), pinned to CPU 0; Locust runs
headless pinned to CPU 1, the same users and duration for every run, in interleaved rounds (the median
ratio counts).  A second baseline, ``benchmarks/lean_locustfile.py``, posts the same fixed body through the
harness's own send path (:mod:`harness.load.sender`, which costs about half of ``FastHttpSession``): the
scenario's ratio to it is what the harness's own work per request (supply, checks, ledger) costs.  Requests/s come from Locust's ``--csv`` stats (plain ``locust -f``) and from the run's
``summary.json`` (``capture-harness load``).  The CPU time spent per request is printed too, the steadier
figure on a busy machine: for a scenario it counts every process of the run on CPU 1, i.e. Locust *and*
its traffic generator (:mod:`harness.load.supply`, which inherits the pin, so its cost competes with the
users directly), and for ``load`` the command's own process as well.  The plain run's first chunks are
prepared before it, as ``capture-harness load`` does, so both compare what a task costs (take a ready
request, send it, check the reply, write the ledger) with the supply running beside it.

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
SETTLE_S = 2.0
"""Seconds after the first request before CPU is measured (users spawned, imports done)."""


@dataclass
class Measured:
    rps: float
    cpu: float
    """Share of a core the run's processes on CPU 1 used in the middle of the run (near 1.0: the load
    generator is the bottleneck)."""
    generator_cpu: float
    """The part of ``cpu`` that was the traffic generator's."""

    @property
    def us_per_request(self) -> float:
        return self.cpu / self.rps * 1e6

    @property
    def generator_us_per_request(self) -> float:
        return self.generator_cpu / self.rps * 1e6


@dataclass
class Round:
    bare: Measured
    lean: Measured
    """``benchmarks/lean_locustfile.py``: the fixed body through the harness's own send path."""
    plain: Measured
    """``locust -f locustfiles/capture.py``."""
    load: Measured
    """``capture-harness load --scenario capture``."""


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += _children(current)
    return found


def _generators(pids: list[int]) -> set[int]:
    found = set()
    for pid in pids:
        try:
            if b"harness.load.supply" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:
            pass
    return found


def _window(root: int, seconds: float) -> tuple[float, float]:
    """Shares of a core the process tree under ``root`` used over ``seconds`` from now: all of it, and its
    traffic generators'.  Processes that appear meanwhile are counted from when they are first seen."""
    pids = _tree(root)
    start = time.monotonic()
    before = {pid: _cpu_seconds(pid) for pid in pids}
    time.sleep(seconds)
    pids = [pid for pid in _tree(root) if pid in before]
    wall = time.monotonic() - start
    used = {pid: _cpu_seconds(pid) - before[pid] for pid in pids}
    generators = _generators(pids)
    return sum(used.values()) / wall, sum(used[pid] for pid in generators) / wall


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile: its time is no longer readable
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime (fields 14 and 15 of stat)


def _locust(locustfile: Path, url: str, users: int, seconds: int, workdir: Path, extra: list[str]) -> Measured:
    """One headless Locust run pinned to CPU 1: its aggregated requests/s from the ``--csv`` stats, and the
    CPU it (and its generator) used over the middle of the run."""
    prefix = workdir / locustfile.stem
    command = ["taskset", "-c", "1", sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
               "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url,
               "--csv", str(prefix), "--only-summary", "--exit-code-on-error", "1", *extra]
    log_path = workdir / f"{locustfile.stem}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        time.sleep(SETTLE_S)  # imports, users spawned
        cpu, generator = _window(process.pid, max(1.0, seconds - SETTLE_S - 0.5))
        status = process.wait(timeout=seconds + 120)
    if status != 0:
        tail = log_path.read_text()[-3000:]
        raise RuntimeError(f"{locustfile.name}: Locust exited {status}; see {log_path}:\n{tail}")
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        row = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    if int(row["Failure Count"]):
        raise RuntimeError(f"{locustfile.name}: {row['Failure Count']} failed requests")
    return Measured(float(row["Requests/s"]), cpu, generator)


def _load(url: str, users: int, seconds: int, workdir: Path) -> Measured:
    """``capture-harness load --scenario capture`` pinned to CPU 1: requests/s from its summary, and the CPU
    its processes (the command, Locust, the generator) used over the middle of the run."""
    report = workdir / "load-report"
    shutil.rmtree(report, ignore_errors=True)
    command = ["taskset", "-c", "1", sys.executable, "-m", "harness.cli", "load", "--url", url, "--scenario",
               "capture", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--seed", str(SEED),
               "--api-key", API_KEY, "--report-dir", str(report), "--progress-interval", "0"]
    with (workdir / "load.log").open("w") as log:
        load = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        _await_locust(load, workdir / "load.log")
        time.sleep(SETTLE_S)
        cpu, generator = _window(load.pid, max(1.0, seconds - SETTLE_S - 0.5))
        load.wait(timeout=seconds + 300)
    summary = json.loads((report / "summary.json").read_text())
    if summary["failures"]:
        raise RuntimeError(f"capture-harness load: {summary['failures']} failed requests; see {report}")
    return Measured(summary["rps"], cpu, generator)


def scenario_vs_bare(args: argparse.Namespace, workdir: Path) -> list[Round]:
    """Rounds of (bare, capture.py, load --scenario capture), interleaved, so drift on a shared machine hits
    all three alike."""
    process, url = _start("noop", str(workdir / "unused.sqlite3"))
    bare_file, scenario_file = HERE / "bare_locustfile.py", ROOT / "locustfiles" / "capture.py"
    cache = workdir / "corpus"
    rounds = []
    try:
        warm = _locust(bare_file, url, args.users, 3, workdir, [])
        print(f"warm-up: {warm.rps:,.0f} req/s", file=sys.stderr)
        for _ in range(args.rounds):
            bare = _locust(bare_file, url, args.users, args.seconds, workdir, [])
            lean = _locust(HERE / "lean_locustfile.py", url, args.users, args.seconds, workdir, [])
            supply.prepare(cache, "capture", SEED, 0, API_KEY)  # claimed (and removed) by the run's supply
            plain = _locust(scenario_file, url, args.users, args.seconds, workdir,
                            ["--capture-seed", str(SEED), "--capture-api-key", API_KEY,
                             "--capture-report-dir", str(workdir / "capture-report"),
                             "--capture-corpus-dir", str(cache)])
            load = _load(url, args.users, args.seconds, workdir)
            for log in ("capture.log", "load-report/locust.log"):
                path = workdir / log
                if path.exists() and "traffic generator is behind" in path.read_text():
                    print(f"note: {log}: the users waited for the traffic generator", file=sys.stderr)
            rounds.append(Round(bare, lean, plain, load))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rounds


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _await_locust(load: subprocess.Popen[bytes], log: Path) -> int:
    """The pid of the Locust process ``load`` starts once its first chunks are prepared; an error naming
    ``log`` when it exits before."""
    while load.poll() is None:
        locust = _find_locust(load.pid)
        if locust is not None:
            return locust
        time.sleep(0.05)
    raise RuntimeError(f"Locust never started; see {log}")


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
        locust = _await_locust(load, report / "locust.log")
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


def _report(rounds: list[Round]) -> None:
    """Each round, then the median ratio of each path to the bare user, by requests/s and by CPU per request."""
    for i, r in enumerate(rounds, 1):
        print(f"  round {i}: bare {_figures(r.bare)}")
        print(f"           lean       {_figures(r.lean)}  ratio {r.lean.rps / r.bare.rps:.3f}")
        print(f"           capture.py {_figures(r.plain)}  ratio {r.plain.rps / r.bare.rps:.3f}")
        print(f"           load       {_figures(r.load)}  ratio {r.load.rps / r.bare.rps:.3f}")
    print(f"bare FastHttpUser, one fixed body:       {statistics.median(r.bare.rps for r in rounds):>8,.0f} req/s, "
          f"{statistics.median(r.bare.us_per_request for r in rounds):.1f} us/req (medians)")
    for label, path in (("locust -f locustfiles/capture.py:       ", "plain"),
                        ("capture-harness load --scenario capture:", "load")):
        runs = [getattr(r, path) for r in rounds]
        ratio = statistics.median(m.rps / r.bare.rps for m, r in zip(runs, rounds))
        cpu_ratio = statistics.median(r.bare.us_per_request / m.us_per_request for m, r in zip(runs, rounds))
        print(f"{label} {statistics.median(m.rps for m in runs):>8,.0f} req/s, "
              f"{statistics.median(m.us_per_request for m in runs):.1f} us/req of which the generator "
              f"{statistics.median(m.generator_us_per_request for m in runs):.1f} (medians)  ratio {ratio:.3f} "
              f"(CPU per request: {cpu_ratio:.3f})  budget {BUDGET:.2f}: {'ok' if ratio >= BUDGET else 'BELOW BUDGET'}")
    lean = statistics.median(r.lean.rps for r in rounds)
    print(f"the fixed body through the harness's send path: {lean:>8,.0f} req/s, "
          f"{statistics.median(r.lean.us_per_request for r in rounds):.1f} us/req (medians); the harness's own work "
          f"per request: capture.py {statistics.median(r.plain.rps / r.lean.rps for r in rounds):.3f}, load "
          f"{statistics.median(r.load.rps / r.lean.rps for r in rounds):.3f} of it")
    if min(m.cpu for r in rounds for m in (r.bare, r.lean, r.plain, r.load)) < 0.9:
        print("  note: CPU 1 gave the run less than 90% of a core in some run (a busy machine): the CPU-per-request "
              "ratio is the steadier figure")


def _figures(m: Measured) -> str:
    generator = f", generator {m.generator_us_per_request:.1f}" if m.generator_cpu else ""
    return f"{m.rps:>7,.0f} req/s ({m.cpu:.0%} CPU, {m.us_per_request:.1f} us/req{generator})"


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seconds", type=int, default=10, help="length of each Locust run (default 10)")
    parser.add_argument("--users", type=int, default=20, help="Locust users in every run (default 20)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved (bare, capture.py, load --scenario capture) rounds (default 3)")
    args = parser.parse_args()
    if not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        sys.exit("bench_locust needs taskset (util-linux) and two CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rounds = scenario_vs_bare(args, workdir)
        print(f"no-op ASGI target (uvicorn + httptools + uvloop) on CPU 0, Locust on CPU 1, {args.users} users, "
              f"{args.seconds}s a run")
        _report(rounds)
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
