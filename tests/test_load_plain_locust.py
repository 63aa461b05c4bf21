"""Plain ``locust -f locustfiles/capture.py`` concludes its run as ``capture-harness load`` does
(:mod:`harness.load.conclusion`): summary.json and report.html in ``--capture-report-dir``, the summary
printed, exit 0 or 1 by the verdict, the thresholds as ``--capture-max-*``; a master covers its workers; a
Locust that ``capture-harness load`` runs leaves the conclusion to it.  Real processes, real HTTP on
127.0.0.1; runs of 3-4 s, each subprocess with a deadline.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.load import conclusion, ledger, results
from harness.load.locustproc import CALLER_CONCLUDES
from harness.load.options import Thresholds
from harness.server.process import ServeProcess
from harness.spec.body import DEFAULT_TOKEN
from tests.test_load_distributed import Process, _free_port

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfiles" / "capture.py"
DEADLINE_S = 120
RUN = ("--headless", "-u", "5", "-r", "5", "-t", "3s", "--stop-timeout", "5", "--only-summary")
"""``--stop-timeout``: each user finishes its request at the end, so every event sent got its answer."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    with ServeProcess(db=tmp_path / "store.sqlite3", log=tmp_path / "server.log", cwd=tmp_path) as process:
        yield process


def _locust(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--capture-report-dir", "report",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=DEADLINE_S, check=False,
                          env={**os.environ, **(env or {})})


def _summary(report_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((report_dir / "summary.json").read_text())
    return document


def _stored(url: str) -> int:
    stored = results.stored_uuids(url, DEFAULT_TOKEN, 0)
    assert stored is not None
    return sum(1 for _ in stored)


def test_every_threshold_is_an_option_of_both_command_lines() -> None:
    assert [row[0] for row in conclusion.THRESHOLD_OPTIONS] == [field.name for field in dataclasses.fields(Thresholds)]


@pytest.mark.e2e
def test_a_plain_locust_run_is_judged_written_and_printed(tmp_path: Path, server: ServeProcess) -> None:
    done = _locust(tmp_path / "run", *RUN, "--host", server.url, "--csv", "report/locust")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report_dir = tmp_path / "run" / "report"
    summary = _summary(report_dir)
    delivery = summary["delivery"]
    assert delivery["checked"] and delivery["lost"] == 0, delivery
    assert delivery["acknowledged"] == delivery["stored"] == _stored(server.url) > 0, delivery
    assert summary["requests"] > 0 and summary["verdict"] == {"passed": True, "reasons": []}
    assert summary["target"] == server.url and summary["scenario"] == "capture" and summary["duration_s"] == 3
    assert summary["locust"]["plain"] and summary["locust"]["notes"] == []
    assert f"--scenario capture -u 5 -r 5 -t 3s --url {server.url}" in summary["replay"]
    assert (report_dir / "report.html").is_file()
    assert f"capture against {server.url}: {summary['requests']:,} requests in 3s" in done.stdout
    assert f"{delivery['stored']:,} stored, 0 lost after acknowledgement" in done.stdout
    assert "\nPASSED\n" in done.stdout


@pytest.mark.e2e
def test_a_broken_threshold_fails_the_plain_run_naming_it(tmp_path: Path, server: ServeProcess) -> None:
    done = _locust(tmp_path / "run", *RUN, "--host", server.url, "--capture-max-p99", "0.001", "--csv", "report/locust",
                   env={"CAPTURE_HARNESS_MIN_RPS": "1"})  # from the environment too
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    report_dir = tmp_path / "run" / "report"
    summary = _summary(report_dir)
    reasons = summary["verdict"]["reasons"]
    assert not summary["verdict"]["passed"] and len(reasons) == 1, reasons
    assert reasons[0].startswith("p99 latency ") and reasons[0].endswith("is above the threshold 0.001ms"), reasons
    assert {check["name"] for check in summary["checks"]} >= {"p99", "requests/s"}, summary["checks"]
    assert f"FAILED: {reasons[0]}" in done.stdout
    # the status is the verdict's, and Locust still closed its CSV files (flushed every 10 s otherwise, so a
    # process exiting without closing them leaves only the first row, taken before any request)
    with (report_dir / "locust_stats_history.csv").open(newline="") as handle:
        history = list(csv.DictReader(handle))
    assert len(history) >= 2 and int(history[-1]["Total Request Count"]) > 0, history


@pytest.mark.e2e
@pytest.mark.parametrize(("option", "value"), [("--capture-max-error-rate", "2"), ("--capture-max-missed", "-1"),
                                               ("--capture-max-p95", "fast")])
def test_a_bad_threshold_is_an_error_naming_the_option(tmp_path: Path, option: str, value: str) -> None:
    done = _locust(tmp_path, "--headless", "-t", "1s", "--host", "http://127.0.0.1:9", option, value)
    assert done.returncode == 2 and f"argument {option}: " in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "report" / "summary.json").exists()


@pytest.mark.e2e
def test_a_plain_master_concludes_over_its_workers_requests(tmp_path: Path, server: ServeProcess) -> None:
    port = _free_port()
    locust = (sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--capture-report-dir", "report")
    master = Process.start(tmp_path / "master", *locust, "--master", "--headless", "--expect-workers", "1",
                           "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "-u", "4", "-r", "4",
                           "-t", "4s", "--stop-timeout", "5", "--host", server.url, "--only-summary")
    worker = Process.start(tmp_path / "worker", *locust, "--worker", "--master-port", str(port))
    assert [process.finish() for process in (master, worker)] == [0, 0], master.output[-4000:]
    summary = _summary(master.cwd / "report")
    assert not (worker.cwd / "report" / "summary.json").exists()  # a worker never concludes
    worker_sent = ledger.reconcile(worker.cwd / "report", None).sent
    delivery = summary["delivery"]
    assert delivery["sent"] == worker_sent > 0 and delivery["lost"] == 0, delivery
    assert delivery["stored"] == _stored(server.url) == delivery["acknowledged"], delivery
    assert summary["workers"]["connected"] == 1 and summary["workers"]["workers"][0]["done"], summary["workers"]
    assert summary["processes"] == 1 and summary["verdict"]["passed"], summary["verdict"]
    assert "workers: 1 of 1" in master.output and "PASSED" in master.output


@pytest.mark.e2e
def test_capture_harness_load_concludes_once(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "load", "--scenario", "capture", "-u", "2", "-t", "2s",
                           "--report-dir", "report", "--progress-interval", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=DEADLINE_S, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(tmp_path / "report")
    assert "cancelled" in summary and "locust" not in summary  # run.py's summary, not its Locust's
    log = (tmp_path / "report" / "locust.log").read_text()
    assert "PASSED" not in log and "summary.json" not in log, log[-3000:]
    assert done.stdout.count("PASSED") == 1


@pytest.mark.e2e
def test_a_locust_started_by_capture_harness_leaves_the_conclusion_to_it(tmp_path: Path,
                                                                        server: ServeProcess) -> None:
    done = _locust(tmp_path, *RUN, "--host", server.url, env={CALLER_CONCLUDES: "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "report" / "locust-final.json").is_file()
    assert not (tmp_path / "report" / "summary.json").exists() and "PASSED" not in done.stdout
