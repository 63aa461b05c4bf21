"""A soak of ``capture-harness load`` against the embedded endpoint: does any cost grow with the run's length?

Runs ``load`` for ``--minutes`` (default 10) in the closed model and then in the open model
(``--arrival-rate``, default 300 requests/s: about what a busy 2-core machine sustains beside the endpoint),
and every ``--interval`` seconds (default 10) samples the resident memory (RSS) of every process of the run:
the CLI, the Locust processes, their traffic generators and the endpoint, found as the descendants of the
command's process.  Disk used by the run is the size of its report directory plus its temporary folder
(``TMPDIR`` points into the benchmark's own folder, so the traffic supply's spool is counted); the embedded
endpoint's SQLite store, in the same folder, is shown apart: it is the target's disk, which ``load``
drains while the run goes (the events it has reconciled are trimmed), so it holds a few seconds of events.  Printed per process: its peak RSS over the run's second minute and over its last
minute, and the growth between them (the budget: under 10%; peaks, since a generator's RSS swings with
each chunk it makes); its peak after the run (reconciling, writing the report); the largest disk use
seen; and the run's delivery figures (0 lost).

The baseline is each process's own peak in minute 2, measured in the same run.

    python benchmarks/bench_soak.py [--minutes 10] [--arrival-rate 300] [--interval 10] [--scenario mixed]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree[int(fields[1])].append(int(entry.name))
    return tree


def _kind(pid: int) -> str:
    """What a process of the run is, from its command line."""
    try:
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    text = b" ".join(argv).decode(errors="replace")
    if "harness.load.supply" in text:
        return "generator"
    if " serve" in text or "harness.server" in text:
        return "endpoint"
    if "locust" in text:
        return "locust"
    return "cli"


def _rss(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def _descendants(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, ()))
    return found


STORE_FOLDER = "capture-harness-store-"
"""The prefix of the embedded endpoint's temporary folder: the target's disk, growing with every event kept."""


def _disk(*folders: Path) -> tuple[int, int]:
    """Bytes in ``folders``: the run's own files (report, traffic spool), and the endpoint's store."""
    harness = store = 0
    for folder in folders:
        for path in folder.rglob("*"):
            try:
                size = path.stat().st_size if path.is_file() else 0
            except OSError:
                continue
            if any(part.startswith(STORE_FOLDER) for part in path.relative_to(folder).parts):
                store += size
            else:
                harness += size
    return harness, store


def soak(label: str, extra: list[str], args: argparse.Namespace, folder: Path) -> bool:
    """One soak; prints its figures and returns whether it met the budgets."""
    temporary, report = folder / "tmp", folder / "report"
    temporary.mkdir(parents=True)
    command = [sys.executable, "-m", "harness.cli", "load", "-t", f"{args.minutes}m", "--scenario", args.scenario,
               "--report-dir", str(report), "--progress-interval", "60", *extra]
    began = time.monotonic()
    run = subprocess.Popen(command, cwd=folder, env={**os.environ, "TMPDIR": str(temporary),
                                                      "PYTHONPATH": str(ROOT)})
    samples: dict[tuple[str, int], list[tuple[float, int]]] = defaultdict(list)
    disk_peak = store_peak = 0
    while run.poll() is None:
        moment = time.monotonic() - began
        for pid in _descendants(run.pid):
            samples[(_kind(pid), pid)].append((moment, _rss(pid)))
        harness, store = _disk(temporary, report)
        disk_peak, store_peak = max(disk_peak, harness), max(store_peak, store)
        time.sleep(args.interval)
    print(f"\n{label}: exit {run.returncode}, {time.monotonic() - began:.0f} s; peak RSS in minute 2 -> in minute "
          f"{args.minutes} (growth), and the peak after the run (reconciliation, report):")
    ok = True
    end_of_run = args.minutes * 60
    for (kind, pid), series in sorted(samples.items()):
        # the peak of each minute, not a point sample: a generator's RSS swings by ~10 MB within each chunk
        first = [rss for moment, rss in series if 60 <= moment <= 120]
        last = [rss for moment, rss in series if end_of_run - 60 <= moment <= end_of_run]
        after = max((rss for moment, rss in series if moment > end_of_run), default=0)
        if not first or not last or kind == "gone":
            continue
        start, end = max(first), max(last)
        growth = (end - start) / start if start else 0.0
        ok &= growth < 0.10
        print(f"  {kind:<10} pid {pid:<7} {start / 2**20:8.1f} MiB -> {end / 2**20:8.1f} MiB   growth {growth:+6.1%}"
              f"   after the run {after / 2**20:8.1f} MiB")
    print(f"  disk used by the run (peak; report, traffic spool, ledgers): {disk_peak / 2**20:.1f} MiB "
          "(budget 500 MiB)")
    print(f"  the endpoint's store (peak; drained by load while the run goes): {store_peak / 2**20:.1f} MiB")
    ok &= disk_peak < 500 * 2**20
    summary = json.loads((report / "summary.json").read_text()) if (report / "summary.json").exists() else {}
    delivery = summary.get("delivery", {})
    print(f"  requests {summary.get('requests', '?')}, delivery: sent {delivery.get('sent')}, "
          f"acknowledged {delivery.get('acknowledged')}, stored {delivery.get('stored')}, lost {delivery.get('lost')}")
    return ok and delivery.get("lost") == 0 and delivery.get("checked") is True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--arrival-rate", type=float, default=300.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--scenario", default="mixed")
    args = parser.parse_args()
    if args.minutes < 3:
        parser.error("--minutes must be at least 3: growth is measured from the second minute to the last")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as work:
        closed = soak("closed model", [], args, Path(work) / "closed")
        opened = soak(f"open model at {args.arrival_rate:g} req/s", ["--arrival-rate", str(args.arrival_rate)],
                      args, Path(work) / "open")
    print(f"\nbudgets met: closed {closed}, open {opened}")
    return 0 if closed and opened else 1


if __name__ == "__main__":
    sys.exit(main())
