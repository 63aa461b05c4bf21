"""One load run across machines: ``capture-harness load --master`` and ``--worker`` (and plain ``locust -f
... --worker``), each a separate process in a working directory of its own, so nothing is shared but
Locust's connection on 127.0.0.1.  The master's totals must be the sum of the workers' work, its delivery
check must cover every worker's ledger, and a worker's failure details must be in the master's report.
Runs are short (3-4 s) and every subprocess has a deadline.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.load import cluster, ledger, report, results
from harness.load.options import Master
from harness.server.process import ServeProcess
from harness.spec.body import DEFAULT_TOKEN
from tests.support import Endpoint, capture_requests

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfiles" / "capture.py"
DEADLINE_S = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    """A subprocess started in ``cwd``, its output in files there (never a pipe that could fill up)."""

    cwd: Path
    popen: subprocess.Popen[bytes]

    @classmethod
    def start(cls, cwd: Path, *command: str) -> Process:
        cwd.mkdir(parents=True, exist_ok=True)
        with (cwd / "out.txt").open("wb") as out, (cwd / "err.txt").open("wb") as err:
            return cls(cwd, subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err))

    def finish(self) -> int:
        try:
            return self.popen.wait(timeout=DEADLINE_S)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()

    @property
    def output(self) -> str:
        return (self.cwd / "out.txt").read_text() + (self.cwd / "err.txt").read_text()


def _harness(cwd: Path, *args: str) -> Process:
    return Process.start(cwd, sys.executable, "-m", "harness.cli", "load", "--report-dir", "report", *args)


def _finish(master: Process, workers: list[Process]) -> dict[str, Any]:
    """Wait for every process; the master's summary (each process must have exited as ``load`` should)."""
    statuses = [process.finish() for process in (master, *workers)]
    for process, status in zip((master, *workers), statuses, strict=True):
        assert status in (0, 1), f"{process.cwd.name} exited {status}:\n{process.output[-4000:]}"
    for worker, status in zip(workers, statuses[1:], strict=True):
        assert status == 0, f"{worker.cwd.name}:\n{worker.output[-4000:]}"
    summary: dict[str, Any] = json.loads((master.cwd / "report" / "summary.json").read_text())
    return summary


def _assert_every_worker_counted(summary: dict[str, Any], master_dir: Path, workers: int) -> None:
    """The totals are the sum of the workers' work, each worker's files arrived, and the delivery check
    covers every event sent (acknowledged = stored, none lost)."""
    document = summary["workers"]
    assert (document["expected"], document["connected"]) == (workers, workers), document
    assert all(worker["done"] and worker["requests"] > 0 for worker in document["workers"]), document
    assert sorted(worker["index"] for worker in document["workers"]) == list(range(workers))
    assert sum(worker["requests"] for worker in document["workers"]) == summary["requests"] > 0
    ledgers = sorted(master_dir.glob("ledger-*"))
    assert len(ledgers) == workers, ledgers
    for index in range(workers):  # shipped, renamed with the worker's index (pids are not unique across machines)
        assert any(path.name.startswith(f"ledger-w{index}.") for path in ledgers), ledgers
    delivery = summary["delivery"]
    assert delivery["checked"], delivery
    assert delivery["sent"] >= summary["requests"], delivery  # one event per request in this scenario, at least
    # a request the run's end interrupted may or may not have been stored; every acknowledged one was
    assert 0 < delivery["acknowledged"] <= delivery["stored"] <= delivery["sent"], delivery
    assert (delivery["lost"], delivery["duplicated"], delivery["unexpected"]) == (0, 0, 0), delivery


@pytest.mark.e2e
def test_a_master_and_two_workers_in_folders_of_their_own(tmp_path: Path) -> None:
    port = _free_port()
    master = _harness(tmp_path / "master", "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
                      "--master-bind-port", str(port), "--scenario", "capture", "-u", "4", "-t", "4s")
    # a report directory of another name: the master's (sent to workers with its options) must not be used
    workers = [_harness(tmp_path / f"worker{n}", "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                        "--scenario", "capture", "--report-dir", "own-report") for n in (1, 2)]
    summary = _finish(master, workers)
    assert summary["verdict"]["passed"], (summary["verdict"], master.output[-4000:])
    _assert_every_worker_counted(summary, master.cwd / "report", workers=2)
    assert summary["failures"] == 0
    assert "workers: 2 of 2" in master.output
    # the two workers replayed streams 0 and 1 of the master's seed, as --processes 2 would on one machine
    assert summary["processes"] == 2 and "--processes 2" in summary["replay"], summary["replay"]
    for worker in workers:
        own = worker.cwd / "own-report"
        assert not (worker.cwd / "report").exists() and not (own / "summary.json").exists()  # a worker only ships
        assert len(list(own.glob("ledger-*"))) == 1 and (own / "locust.log").is_file()
        states = [json.loads(path.read_text()) for path in own.glob("worker-*.json")]
        assert len(states) == 1 and states[0]["acknowledged"] and not states[0]["shared_folder"], states
        assert "connected to the master at 127.0.0.1:" in worker.output and "shipped 2 files" in worker.output, \
            worker.output


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    with ServeProcess(db=tmp_path / "endpoint.sqlite3", cwd=tmp_path) as server:
        yield Endpoint(server.url)


@pytest.mark.e2e
def test_plain_locust_workers_failures_reach_the_masters_report(tmp_path: Path, endpoint: Endpoint) -> None:
    endpoint.call("POST", "/_harness/faults", {"error_rate": 0.5, "error_statuses": [503]})
    port = _free_port()
    master = _harness(tmp_path / "master", "--url", endpoint.url, "--master", "--expect-workers", "2",
                      "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--scenario", "capture",
                      "-u", "4", "-t", "4s", "--max-error-rate", "0.8")
    workers = [Process.start(tmp_path / f"worker{n}", sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
                             "--worker", "--master-port", str(port), "--capture-report-dir", "report")
               for n in (1, 2)]
    summary = _finish(master, workers)
    assert summary["verdict"]["passed"], (summary["verdict"], master.output[-4000:])
    _assert_every_worker_counted(summary, master.cwd / "report", workers=2)
    assert capture_requests(endpoint.stats()) == summary["requests"]  # the endpoint's count, the workers' sum and the master's total agree
    # the 503s: counted by the master, their details (with curl) shipped from both workers into its report
    assert 0 < summary["failures"] < summary["requests"]
    details = report.read_failures(master.cwd / "report")
    assert sum(entry.count for entry in details.values()) == summary["failures"], details
    shipped = sorted((master.cwd / "report").glob("failures-w*.jsonl"))
    originals = sorted(path for worker in workers for path in (worker.cwd / "report").glob("failures-*.jsonl"))
    assert len(shipped) == len(originals) == 2, (shipped, originals)
    for original in originals:  # byte for byte, reassembled from 256 KiB messages
        copy = next(path for path in shipped if path.name.endswith(f"-{original.name.removeprefix('failures-')}"))
        assert copy.read_bytes() == original.read_bytes(), copy
    assert max(path.stat().st_size for path in shipped) > 256 * 1024  # so at least one came in several pieces
    assert all(example["curl"].startswith("curl ") for entry in details.values() for example in entry.examples)
    assert summary["delivery"]["acknowledged"] < summary["delivery"]["sent"]  # a 503 acknowledges nothing


@pytest.mark.e2e
def test_workers_that_never_come_fail_the_master_naming_how_many_came(tmp_path: Path) -> None:
    master = _harness(tmp_path / "master", "--master", "--expect-workers", "2", "--expect-workers-max-wait", "2",
                      "--master-bind-host", "127.0.0.1", "--master-bind-port", str(_free_port()), "-t", "3s")
    assert master.finish() == 1, master.output
    assert "0 of 2 workers connected within 2 s (--expect-workers 2)" in master.output
    assert "capture-harness load --worker --master-host" in master.output


@pytest.mark.e2e
def test_a_worker_whose_master_cannot_be_reached_gives_up(tmp_path: Path) -> None:
    worker = _harness(tmp_path / "worker", "--worker", "--master-host", "127.0.0.1", "--master-port",
                      str(_free_port()), "--connect-timeout", "3")
    assert worker.finish() == 1, worker.output
    assert "could not reach the master at 127.0.0.1:" in worker.output
    assert "within 3 s" in worker.output


@pytest.mark.parametrize(("args", "message"), [
    (["--worker"], "--worker needs --master-host HOST"),
    (["--worker", "--master-host", "m", "--url", "http://127.0.0.1:1", "-u", "3"],
     "--worker takes --url, -u from its master"),
    (["--master"], "--master needs --expect-workers N"),
    (["--master", "--worker", "--master-host", "m"], "--master and --worker exclude each other"),
    (["--master", "--expect-workers", "2", "--processes", "2"], "give --processes to each worker"),
    (["--expect-workers", "2"], "--expect-workers is for --master"),
    (["--master-host", "m"], "--master-host is for --worker"),
    (["--master", "--expect-workers", "1", "--serve-host", "0.0.0.0"], "an address of this machine the workers"),
])
def test_option_mistakes_are_usage_errors_naming_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        args: list[str], message: str) -> None:
    assert main(["load", "--report-dir", str(tmp_path / "report"), *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.e2e
def test_plain_locust_master_chooses_one_seed_and_collects_every_workers_files(tmp_path: Path,
                                                                              endpoint: Endpoint) -> None:
    port = _free_port()
    locust = (sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--capture-report-dir", "report")
    master = Process.start(tmp_path / "master", *locust, "--master", "--headless", "--expect-workers", "2",
                           "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "-u", "4", "-r", "4",
                           "-t", "3s", "--host", endpoint.url, "--only-summary")
    workers = [Process.start(tmp_path / f"worker{n}", *locust, "--worker", "--master-port", str(port))
               for n in (1, 2)]
    assert [process.finish() for process in (master, *workers)] == [0, 0, 0], master.output[-4000:]
    report_dir = master.cwd / "report"
    assert "seed" in master.output and "chosen by the master, used by every worker" in master.output
    document = json.loads((report_dir / "workers.json").read_text())
    final = json.loads((report_dir / "locust-final.json").read_text())
    assert sum(worker["requests"] for worker in document["workers"]) == final["aggregated"]["requests"] > 0
    assert all(worker["done"] and worker["files"] for worker in document["workers"]), document
    assert not (report_dir / ".capture-harness-master").exists()  # the master's marker is gone after the run
    # every worker's ledger reconciles, at the master, with what the endpoint stored
    stored = results.stored_uuids(endpoint.url, DEFAULT_TOKEN, 0)
    delivery = ledger.reconcile(report_dir, stored)
    assert delivery.checked and delivery.lost == 0 and 0 < delivery.acknowledged <= delivery.stored, delivery
    assert delivery.sent >= final["aggregated"]["requests"]  # one event a request, and any the end interrupted


def _workers_file(report_dir: Path, connected: int, done: list[bool]) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    workers = [{"index": index, "host": "loadgen", "requests": 10 * (index + 1), "failures": 0, "files": {},
                "done": finished, "shared_folder": False} for index, finished in enumerate(done)]
    (report_dir / "workers.json").write_text(json.dumps({"expected": 2, "connected": connected, "workers": workers}))


def test_a_worker_whose_files_never_came_fails_the_run_by_name(tmp_path: Path) -> None:
    _workers_file(tmp_path, connected=2, done=[True, False])
    document, reasons = cluster.workers_report(tmp_path, Master(expect_workers=2))
    assert [worker["requests"] for worker in document["workers"]] == [10, 20]
    assert reasons == [("worker 1 on loadgen sent no files before the end: the delivery check does not cover "
                        "its events (see its locust.log)")]
    assert cluster.render(document) == ("workers: 2 of 2 (w0 loadgen 10 requests, "
                                        "w1 loadgen 20 requests (files missing))")


def test_waiting_for_workers_is_shown_until_all_came(tmp_path: Path) -> None:
    master = Master(expect_workers=2, bind_port=6000, max_wait_s=30)
    assert cluster.waiting_line(tmp_path, None, 0.0) is None  # not a master
    line = cluster.waiting_line(tmp_path, master, 0.0)  # nothing written yet: none came
    assert line is not None and line.startswith("waiting for workers: 0 / 2 connected") and "--master-port 6000" in line
    _workers_file(tmp_path, connected=2, done=[False, False])
    assert cluster.waiting_line(tmp_path, master, 0.0) is None
    _, reasons = cluster.workers_report(tmp_path / "none", master)
    assert reasons[0].startswith("0 of 2 workers connected within 30 s (--expect-workers 2)"), reasons
