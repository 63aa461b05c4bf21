"""``capture-harness load --master`` and ``--worker``: one run's load generated on several machines, with
Locust's own distributed mode; the command line's side of it (no Locust import: the Locust side, which
carries the seed to the workers and their files back, is :mod:`harness.load.distributed`).

- **Master** (:class:`harness.load.options.Master`): the usual run (endpoint, thresholds, delivery check,
  summary), but Locust is started as ``--master --expect-workers N`` with no users of its own
  (:func:`master_arguments`).  While the workers are awaited a status line says how many came; when they
  do not come within ``--expect-workers-max-wait`` Locust gives up and the run fails naming how many did
  (:func:`workers_report`).  Nothing is prepared here: each worker's generator makes its own stream.
- **Worker** (:func:`run_worker`): Locust ``--worker`` for this machine, until the master ends the run; it
  needs nothing but the scenario (the master sends the seed, API key, target and users), writes into a
  report directory of its own and ships its files to the master before it exits.  Exit status 0 when the
  master confirmed its files, 1 when it could not be reached within ``--connect-timeout`` or did not
  confirm, 2 usage errors.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness._data import data_file
from harness.load import files, locustproc, transport
from harness.load.cancel import Cancel
from harness.load.options import Master, UsageError, WorkerOptions

SHIP_ALLOWANCE_S = 60.0
"""Time past the planned duration a master may take besides waiting for workers: stopping the users and
receiving the workers' files (:data:`harness.load.distributed.SHIP_WAIT_S`, 30 s)."""


def master_arguments(master: Master) -> list[str]:
    """Locust's arguments for the master of ``master``'s workers."""
    return ["--master", "--expect-workers", str(master.expect_workers), "--master-bind-host", master.bind_host,
            "--master-bind-port", str(master.bind_port), "--expect-workers-max-wait", f"{master.max_wait_s:g}"]


def allowance_s(master: Master | None) -> float:
    """How much longer than its planned duration Locust's master may run before it is stopped as late."""
    return 0.0 if master is None else master.max_wait_s + SHIP_ALLOWANCE_S


def waiting_line(report_dir: Path, master: Master | None, started: float) -> str | None:
    """``waiting for workers: 1 / 2 connected (12 s of at most 60 s)`` until they all came; else None."""
    if master is None:
        return None
    workers = files.read_json(report_dir / files.WORKERS) or {}
    connected = int(workers.get("connected", 0))
    if connected >= master.expect_workers:
        return None
    return (f"waiting for workers: {connected} / {master.expect_workers} connected ({time.time() - started:.0f} s "
            f"of at most {master.max_wait_s:g} s; start them with: capture-harness load --worker --master-host "
            f"<this machine> --master-port {master.bind_port})")


def workers_report(report_dir: Path, master: Master) -> tuple[dict[str, Any], list[str]]:
    """The workers for ``summary.json`` (each one's index, host, requests, files received), and why they
    fail the run: fewer came than expected, or one's files never arrived (the delivery check would not
    cover its events)."""
    document = files.read_json(report_dir / files.WORKERS) or {"expected": master.expect_workers, "connected": 0,
                                                                "workers": []}
    reasons = []
    if document["connected"] < master.expect_workers:
        reasons.append(f"{document['connected']} of {master.expect_workers} workers connected within "
                       f"{master.max_wait_s:g} s (--expect-workers {master.expect_workers}): start each with "
                       f"capture-harness load --worker --master-host <this machine> --master-port {master.bind_port} "
                       "and check that the port is open (or raise --expect-workers-max-wait)")
    for worker in document["workers"]:
        if not worker["done"]:
            reasons.append(f"worker {worker['index']} on {worker['host']} sent no files before the end: the delivery "
                           "check does not cover its events (see its locust.log)")
    return document, reasons


def render(document: dict[str, Any]) -> str:
    """``workers: 2 of 2 (w0 vm 1,234 requests, w1 vm 1,200 requests)``."""
    shown = ", ".join(f"w{w['index']} {w['host']} {w['requests']:,} requests"
                      + ("" if w["done"] else " (files missing)") for w in document["workers"])
    return f"workers: {document['connected']} of {document['expected']} ({shown or 'none'})"


# --- a worker ---------------------------------------------------------------------------------------------


def run_worker(options: WorkerOptions) -> int:
    """Locust workers for a master elsewhere, until it ends the run; see the module's docstring for the
    exit status (``128 + signal`` when SIGINT or SIGTERM stopped it)."""
    report_dir = options.report_dir
    _clear(report_dir)
    log = report_dir / files.LOCUST_LOG
    master = f"{options.master_host}:{options.master_port}"
    with Cancel() as cancel, tempfile.TemporaryDirectory(prefix="capture-harness-corpus-") as corpus_dir:
        command = [
            sys.executable, "-m", "locust", "-f", str(data_file("locustfiles", f"{options.scenario}.py")), "--worker",
            "--master-host", options.master_host, "--master-port", str(options.master_port),
            "--capture-report-dir", str(report_dir), "--capture-corpus-dir", corpus_dir,
            "--capture-bodies-dir", str(options.bodies_dir), "--exit-code-on-error", "0",  # the master judges
            *(["--processes", str(options.processes)] if options.processes > 1 else []), *options.locust_args]
        print(f"load worker: scenario {options.scenario}, {options.processes} process(es), master {master}; Locust "
              f"output: {log}", file=sys.stderr, flush=True)
        environment = {**os.environ, transport.CA_BUNDLE: str(options.ca_bundle or "")}
        status = locustproc.run(command, environment, log, options.max_duration_s, cancel,
                                abandon=_Connection(options).unreachable)
    if cancel.cancelled:
        return cancel.exit_status
    return _worker_status(options, status, _states(report_dir))


class _Connection:
    """Whether this machine's workers reached their master: said once when they did, and given up on when
    none did within ``connect_s``."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.started = time.monotonic()
        self.connected = False

    def unreachable(self) -> bool:
        if self.connected:
            return False
        states = _states(self.options.report_dir)
        if states:
            self.connected = True
            indexes = ", ".join(str(state.get("index")) for state in states)
            print(f"load worker: connected to the master at {self.options.master_host}:{self.options.master_port} "
                  f"(worker index {indexes}); the master runs the test and ends it", file=sys.stderr, flush=True)
        return not states and time.monotonic() - self.started > self.options.connect_s


def _worker_status(options: WorkerOptions, status: int, states: list[dict[str, Any]]) -> int:
    master = f"{options.master_host}:{options.master_port}"
    if not states:
        print(f"capture-harness load: could not reach the master at {master} within {options.connect_s:g} s: start "
              f"it first (capture-harness load --master --expect-workers N), check --master-host and that TCP port "
              f"{options.master_port} is open from here (Locust exit status {status}; see "
              f"{options.report_dir / files.LOCUST_LOG})", file=sys.stderr)
        return 1
    unconfirmed = [state for state in states if not state.get("acknowledged")]
    log = options.report_dir / files.LOCUST_LOG
    if unconfirmed:
        print(f"capture-harness load: {len(unconfirmed)} of {len(states)} worker process(es) got no receipt from the "
              f"master at {master} for their files (see {log}); the files stay in {options.report_dir}", file=sys.stderr)
        return 1
    if status != 0:
        print(f"capture-harness load: Locust exited with status {status}: see {log} (e.g. a --scenario other than "
              "the master's)", file=sys.stderr)
        return 1
    shipped = sum(len(state.get("files", [])) for state in states)
    sent = sum(int(state.get("bytes", 0)) for state in states)
    where = "wrote them into the master's folder" if all(s.get("shared_folder") for s in states) \
        else f"shipped {shipped} files ({sent:,} bytes) to the master"
    print(f"load worker: done; {len(states)} process(es) {where}", file=sys.stderr)
    return 0


def _states(report_dir: Path) -> list[dict[str, Any]]:
    """What each worker process recorded (:data:`harness.load.files.WORKER_STATE`): none before it connected."""
    return [state for path in sorted(report_dir.glob(files.WORKER_STATE))
            if (state := files.read_json(path)) is not None]


def _clear(report_dir: Path) -> None:
    """The worker's report directory, without an earlier run's files (never shipped: shipping is by pid)."""
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--report-dir {report_dir}: cannot create it ({error.strerror or error})") from None
    files.remove_stale(report_dir, (files.LEDGER_GLOB, files.FAILURES_GLOB, files.WORKER_STATE))
