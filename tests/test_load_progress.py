"""Progress and small fixes of ``capture-harness load``: the status lines (preparation, run, reconciliation),
``--report-dir`` naming a file, and plain Locust's open model starting its plan with its first user."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from harness.cli import main
from harness.load import progress
from harness.server.process import ServeProcess

LOCUSTFILES = Path(__file__).resolve().parent.parent / "locustfiles"

RUN_LINE = re.compile(r"^\[load\] \d\d:\d\d / 00:08  [\d,]+ req/s  errors [\d,]+ \(\d+\.\d\d%\)  p95 (\d+|-) ms",
                      re.MULTILINE)


def test_report_dir_naming_a_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "report.txt"
    existing.write_text("not a directory")
    assert main(["load", "--report-dir", str(existing), "-t", "1s"]) == 2
    error = capsys.readouterr().err
    assert str(existing) in error and "must be a directory" in error and "Traceback" not in error
    assert main(["load", "--report-dir", str(existing / "below"), "-t", "1s"]) == 2  # under a file
    assert "must be a directory" in capsys.readouterr().err
    assert existing.read_text() == "not a directory"


def test_the_stats_history_is_read_incrementally_whole_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "locust_stats_history.csv"
    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,95%,Total Request Count,Total Failure Count\n"
    path.write_text(header + "100,5,,Aggregated,0.0,0.0,N/A,0,0\n" + "100,5,POST,capture json,1.0,0.0,7,5,0\n")
    history = progress.StatsHistory(tmp_path)
    assert history.read() is not None and history.rps() == 0.0
    with path.open("a") as handle:
        handle.write("110,5,,Aggregated,0.0,0.0,12,1000,10\n111,5,,Aggre")  # the last line is not whole yet
    row = history.read()
    assert row is not None and row["Total Request Count"] == "1000"
    assert history.rps() == pytest.approx(100.0)  # (1000 - 0) requests in 10 s
    line = progress.run_line(history, 60, 0.0)
    assert re.fullmatch(r"01:00 / 01:00  100 req/s  errors 10 \(1\.00%\)  p95 12 ms  \(1,000 requests\)", line), line


def test_clock_and_lines() -> None:
    assert progress.clock(75) == "01:15" and progress.clock(3725) == "1:02:05"
    assert progress.chunks_line(3, 12) == "preparing: 3 / 12 chunks (25%)"
    assert progress.pages_line(2, 1500) == "reconciling: 2 pages of /_harness/events read (1,500 stored events)"


@pytest.mark.e2e
def test_a_run_prints_status_lines_without_control_codes(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "load", "-t", "8s", "-u", "4", "--arrival-rate", "100",
                           "--report-dir", str(tmp_path / "report")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\[load\] preparing the first 2,000 requests \(2 chunks\) of mixed traffic .*the rest is made "
                     r"during the run", done.stderr, re.MULTILINE), done.stderr
    assert re.search(r"^\[load\] prepared [\d,]+ / [\d,]+ chunks in \d+\.\d s$", done.stderr, re.MULTILINE), done.stderr
    assert RUN_LINE.search(done.stderr), done.stderr
    assert "\r" not in done.stderr and "\x1b" not in done.stderr  # not a terminal: plain lines only
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["cancelled"] is False


def _capture_requests(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_harness/stats", timeout=10) as reply:
        stats = json.loads(reply.read())
    return sum(count for path, statuses in stats["requests"].items() if not path.startswith("/_harness")
               for count in statuses.values())


@pytest.mark.e2e
def test_plain_locust_open_model_sends_without_waiting_for_every_user(tmp_path: Path) -> None:
    """Locust spawns one user a second without ``-r``: 50 users would take 50 s, longer than the run.  The plan
    starts with the first user, and the open model spawns all users at once unless ``-r`` is given."""
    with ServeProcess(db=tmp_path / "store.sqlite3") as server:
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / "mixed.py"), "--headless", "-u", "50", "-t", "10s",
             "--capture-arrival-rate", "200", "--host", server.url, "--capture-report-dir", str(tmp_path / "report"),
             "--capture-corpus-dir", str(tmp_path / "corpus"), "--capture-bodies-dir", str(tmp_path / "bodies")],
            cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
            env={**os.environ, "CAPTURE_HARNESS_SEED": "5"})
        sent = _capture_requests(server.url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sent > 0, done.stderr[-3000:]
    assert "spawning all 50 users within a second" in done.stderr
    latency = json.loads((tmp_path / "report" / "latency.json").read_text())
    assert latency["plan"]["sent"] > 0 and latency["plan"]["missed"] == 0, latency["plan"]
