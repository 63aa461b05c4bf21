"""Cancelling ``capture-harness load``: SIGTERM, and SIGINT as a Ctrl-C at a terminal sends it (to the whole
foreground process group), stop Locust (and its ``--processes`` workers) and the reference endpoint the run
started, remove the temporary folders, write the summary of what ran marked as cancelled, and exit 143 or 130,
without a traceback and without leaving a process behind.

Each run is a real one: ``python -m harness.cli load -t 60s`` in a session of its own, with its own
``TMPDIR`` (so its temporary folders can be found), cancelled once its status lines count answered
requests.  The open model at a low rate keeps the corpus to prepare small.  Processes are found through ``/proc``: the run's descendants while it runs, and afterwards any process of their sessions or
process groups.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import wait_for

DEADLINE_S = 120.0
"""Generous: preparation, Locust's start and its stop on a busy machine."""


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int
    """Start time in clock ticks since boot: with the pid, it names one process even if the pid is reused."""
    command: str


def processes() -> dict[int, Proc]:
    """Every live (not zombie) process, from ``/proc``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if fields[0] == "Z":
            continue
        found[int(entry.name)] = Proc(int(entry.name), int(fields[1]), int(fields[2]), int(fields[3]),
                                      int(fields[19]), command)
    return found


def descendants(pid: int) -> list[Proc]:
    table = processes()
    result, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [proc for proc in table.values() if proc.ppid == parent]
        result += children
        frontier += [child.pid for child in children]
    return result


def answered(stderr: str) -> int:
    """Requests Locust counted, as the latest status line says (``... (1,234 requests)``)."""
    counts = re.findall(r"^\[load\] \d\d:\d\d / .*\(([\d,]+) requests\)$", stderr, re.MULTILINE)
    return int(counts[-1].replace(",", "")) if counts else 0


@dataclass
class Cancelled:
    returncode: int
    stdout: str
    stderr: str
    summary: dict[str, Any]
    survivors: list[Proc]
    running: list[Proc]
    """The run's descendants while it ran."""
    folders_while_running: list[str]
    folders_after: list[str]


def cancel_a_run(tmp_path: Path, send: Callable[[int], None], *args: str) -> Cancelled:
    """Start a 60 s run, wait until Locust has counted answered requests, ``send(pid)`` a signal, and collect
    what is left."""
    temporary, report = tmp_path / "tmp", tmp_path / "report"
    temporary.mkdir()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        run = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "load", "-t", "60s", "--arrival-rate", "40", "-u", "4",
             "--report-dir", str(report), "--progress-interval", "1", *args],
            cwd=tmp_path, stdout=stdout, stderr=stderr, env={**os.environ, "TMPDIR": str(temporary)},
            start_new_session=True)
    try:
        wait_for(lambda: answered(err.read_text()) > 0, "a status line counting answered requests", DEADLINE_S, 0.1)
        running = descendants(run.pid)
        folders_while_running = sorted(path.name for path in temporary.iterdir())
        send(run.pid)
        returncode = run.wait(timeout=DEADLINE_S)
    finally:
        if run.poll() is None:  # the test failed: leave nothing behind
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    groups = {run.pid} | {proc.sid for proc in running} | {proc.pgid for proc in running}

    def survivors() -> list[Proc]:
        table = processes()
        kept = [proc for proc in running if table.get(proc.pid, proc).start == proc.start and proc.pid in table]
        return kept + [proc for proc in table.values() if (proc.sid in groups or proc.pgid in groups)
                       and proc not in kept]

    deadline = time.monotonic() + 30
    while (left := survivors()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return Cancelled(returncode, out.read_text(), err.read_text(), json.loads((report / "summary.json").read_text()),
                     left, running, folders_while_running, sorted(path.name for path in temporary.iterdir()))


def assert_cancelled_cleanly(result: Cancelled, signal_name: str) -> None:
    assert any(" -m locust " in proc.command for proc in result.running), result.running  # the check sees Locust
    assert any(" -m harness.cli serve " in proc.command for proc in result.running), result.running  # and the endpoint
    assert result.survivors == [], result.survivors
    assert any(name.startswith("capture-harness-store-") for name in result.folders_while_running)
    assert any(name.startswith("capture-harness-corpus-") for name in result.folders_while_running)
    assert [name for name in result.folders_after if name.startswith("capture-harness-")] == []
    summary = result.summary
    assert summary["cancelled"] is True, summary
    assert summary["cancel"]["signal"] == signal_name and summary["cancel"]["phase"] == "run", summary["cancel"]
    assert 0 < summary["cancel"]["after_s"] < 60 and summary["cancel"]["planned_s"] == 60
    assert summary["requests"] > 0 and summary["verdict"]["passed"] is False
    assert re.search(r"^CANCELLED after \d+\.\d s of 60 s \(" + signal_name, result.stdout, re.MULTILINE), result.stdout
    assert "PASSED" not in result.stdout.splitlines()
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr, result.stderr


@pytest.mark.e2e
def test_sigterm_stops_locust_its_workers_and_the_endpoint(tmp_path: Path) -> None:
    result = cancel_a_run(tmp_path, lambda pid: os.kill(pid, signal.SIGTERM), "--processes", "2")
    assert result.returncode == 143, result.stderr
    assert sum(" -m locust " in proc.command for proc in result.running) == 3, result.running  # master, 2 workers
    assert_cancelled_cleanly(result, "SIGTERM")
    assert result.summary["delivery"]["checked"] and result.summary["delivery"]["lost"] == 0


@pytest.mark.e2e
def test_ctrl_c_stops_the_run_without_a_traceback(tmp_path: Path) -> None:
    """A terminal's Ctrl-C: SIGINT to the run's whole process group."""
    result = cancel_a_run(tmp_path, lambda pid: os.killpg(pid, signal.SIGINT))
    assert result.returncode == 130, result.stderr
    assert_cancelled_cleanly(result, "SIGINT")
