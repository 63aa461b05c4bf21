"""A master plus two worker processes (``capture-harness load --master`` and two ``--worker``, each in a
folder of its own, talking over 127.0.0.1) against ``capture-harness load --processes 2``: achieved
requests/s, same scenario, target, users and duration, in interleaved rounds of the same invocation.

What it shows: the cost of the distributed mode itself (a master process of its own, the workers' files
shipped over Locust's messaging, no first chunks prepared before the clock starts) against Locust's
``--processes``, which forks its workers from one master sharing the report directory.  On one machine both
generate load from two worker processes, so a ratio near 1.0 means distribution costs nothing measurable.
The target is one reference endpoint started here (``capture-harness serve``), shared by every run, so the
ratio compares the load generators against the same server (which of the two runs first alternates by
round); the absolute figures are this machine's.

    python benchmarks/bench_distributed.py [--seconds 10] [--users 20] [--rounds 3] [--scenario capture]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.server.process import ServeProcess

DEADLINE_S = 300


def _load(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    cwd.mkdir(parents=True, exist_ok=True)
    with (cwd / "output.txt").open("wb") as output:
        return subprocess.Popen([sys.executable, "-m", "harness.cli", "load", "--report-dir", "report",
                                 "--progress-interval", "0", *args], cwd=cwd, stdout=output, stderr=subprocess.STDOUT)


def _rps(cwd: Path, process: subprocess.Popen[bytes]) -> float:
    status = process.wait(timeout=DEADLINE_S)
    summary_path = cwd / "report" / "summary.json"
    if status not in (0, 1) or not summary_path.is_file():
        raise RuntimeError(f"{cwd}: load exited {status}:\n{(cwd / 'output.txt').read_text()[-3000:]}")
    rps: float = json.loads(summary_path.read_text())["rps"]
    return rps


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def processes_run(workdir: Path, common: list[str]) -> float:
    cwd = workdir / "processes"
    return _rps(cwd, _load(cwd, "--processes", "2", *common))


def distributed_run(workdir: Path, common: list[str]) -> float:
    port = str(_free_port())
    master_dir = workdir / "master"
    master = _load(master_dir, "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
                   "--master-bind-port", port, *common)
    workers = [_load(workdir / f"worker{n}", "--worker", "--master-host", "127.0.0.1", "--master-port", port,
                     "--scenario", common[common.index("--scenario") + 1]) for n in (1, 2)]
    rps = _rps(master_dir, master)
    for worker in workers:
        if worker.wait(timeout=DEADLINE_S) != 0:
            raise RuntimeError(f"a worker failed; see {workdir}/worker*/output.txt")
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenario", default="capture")
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as folder, \
            ServeProcess(db=Path(folder) / "store.sqlite3") as server:
        common = ["--url", server.url, "--scenario", args.scenario, "-u", str(args.users), "-t", f"{args.seconds}s",
                  "--max-error-rate", "1"]
        for round_number in range(1, args.rounds + 1):
            workdir = Path(folder) / f"round{round_number}"
            if round_number % 2:  # alternate which runs first: the shared endpoint's store grows run by run
                baseline, distributed = processes_run(workdir, common), distributed_run(workdir, common)
            else:
                distributed, baseline = distributed_run(workdir, common), processes_run(workdir, common)
            ratios.append(distributed / baseline)
            print(f"round {round_number}: --processes 2 {baseline:,.0f} req/s; --master + 2 --worker "
                  f"{distributed:,.0f} req/s; ratio {distributed / baseline:.3f}", flush=True)
    print(f"master + 2 workers vs --processes 2 ({args.scenario}, -u {args.users}, {args.seconds} s, "
          f"{args.rounds} rounds): median ratio {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
