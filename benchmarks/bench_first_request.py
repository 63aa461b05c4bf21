"""Time from starting ``capture-harness load`` (against the embedded reference endpoint) to its first request,
for ``-t 30s``, ``-t 1h`` and ``-t 24h``, side by side, with each long run's ratio to the 30 s run (the
baseline, measured in the same invocation): the traffic supply's cost must not depend on the run's length.

Each run gets its own working and temporary folder; the first request is seen by polling the endpoint's
``/_harness/stats`` (its URL is on the run's stderr).  Once seen, or after ``--give-up`` seconds, the run is
cancelled with SIGTERM, and the benchmark checks that it left no temporary folder behind.

    .venv/bin/python benchmarks/bench_first_request.py [--scenario mixed] [--processes 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATIONS = ("30s", "1h", "24h")


TOKEN = "bench-first-request-inspect-token"
"""The embedded endpoint's inspection token (``load`` reads it from the environment)."""


def _capture_requests(url: str) -> int:
    request = urllib.request.Request(f"{url}/_harness/stats", headers={"X-Capture-Harness-Token": TOKEN})
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:
            stats = json.loads(reply.read())
    except OSError:
        return 0
    return sum(count for path, statuses in stats["requests"].items() if not path.startswith("/_harness")
               for count in statuses.values())


def first_request(duration: str, args: argparse.Namespace, folder: Path) -> tuple[float | None, list[str]]:
    """Seconds to the first request (None: not within ``give_up``), and the temporary folders left after."""
    temporary = folder / "tmp"
    temporary.mkdir(parents=True)
    err = folder / "stderr.txt"
    command = [sys.executable, "-m", "harness.cli", "load", "-t", duration, "--scenario", args.scenario,
               "--processes", str(args.processes), "--report-dir", str(folder / "report"), "--progress-interval", "1"]
    began = time.monotonic()
    with err.open("w") as stderr:
        run = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                               env={**os.environ, "TMPDIR": str(temporary), "PYTHONPATH": str(ROOT),
                                    "CAPTURE_HARNESS_INSPECT_TOKEN": TOKEN})
    seen: float | None = None
    try:
        url = None
        while time.monotonic() - began < args.give_up and run.poll() is None:
            if url is None:
                found = re.search(r"started the reference endpoint at (\S+)", err.read_text())
                url = found.group(1) if found else None
            if url is not None and _capture_requests(url) > 0:
                seen = time.monotonic() - began
                break
            time.sleep(0.05)
        if run.poll() is not None:
            print(f"-t {duration}: the run exited {run.returncode}:\n{err.read_text()[-2000:]}", file=sys.stderr)
        else:
            os.kill(run.pid, signal.SIGTERM)
            run.wait(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    return seen, sorted(path.name for path in temporary.iterdir())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="mixed")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--give-up", type=float, default=60.0, help="seconds to wait for the first request")
    args = parser.parse_args()
    figures: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="bench-first-request-") as work:
        for duration in DURATIONS:
            seen, left = first_request(duration, args, Path(work) / duration)
            figures[duration] = seen
            if left:
                print(f"-t {duration}: left temporary folders behind: {left}", file=sys.stderr)
    base = figures[DURATIONS[0]]
    print(f"time to first request ({args.scenario}, --processes {args.processes}; baseline -t {DURATIONS[0]}):")
    for duration, seen in figures.items():
        shown = f"{seen:6.2f} s" if seen is not None else f" >{args.give_up:g} s"
        ratio = f"{seen / base:5.2f}x baseline" if seen is not None and base else ""
        print(f"  -t {duration:<4} {shown}  {ratio}")
    return 0 if all(seen is not None for seen in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
