"""The Locust subprocess of a load run: started in a session of its own, watched, stopped.

Locust runs in its own session (and so its own process group, which ``--processes`` workers, forked by it,
share), so a Ctrl-C at the terminal reaches only ``capture-harness``, which then stops Locust in order:

1. SIGINT to Locust's main process, as a Ctrl-C would: it stops its users, tells its workers to quit and
   writes its reports (HTML, CSV, and through the harness's listeners the final stats, ledgers and latency
   report), within :data:`GRACE_S` (none after a second signal);
2. then SIGTERM to the whole group, and after :data:`TERM_S` SIGKILL;
3. whatever is left in the group once the main process has exited is killed before that process is
   reaped (so its group id cannot have been reused), whether the run was cancelled or not.

A run that outlives its planned duration by :data:`LATE_S` is stopped the same way, without the grace, and
so is one its caller abandons (a worker that never reached its master: :mod:`harness.load.cluster`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness.load.cancel import Cancel

GRACE_S = 20.0
"""How long Locust may take to stop its users and write its reports after SIGINT (its ``--stop-timeout``
is 10 s)."""
TERM_S = 5.0
"""How long the group may take to exit after SIGTERM before it is killed."""
LATE_S = 120.0
"""How long past its planned duration a run may go before it is stopped."""
POLL_S = 0.2
"""How often the watcher looks at Locust's state and the cancel flag."""

KILLED_LATE = -9
"""The exit status reported for a Locust stopped for being late."""
ABANDONED = -100
"""The exit status reported for a Locust stopped because ``abandon`` said so."""
CALLER_CONCLUDES = "CAPTURE_HARNESS_CALLER_CONCLUDES"
"""Set in the environment of every Locust started here: its caller (``capture-harness load``, or a worker's
master) concludes the run, so Locust itself does not (:mod:`harness.load.conclusion`)."""


def run(command: Sequence[str], environment: Mapping[str, str], log: Path, duration_s: float, cancel: Cancel,
        abandon: Callable[[], bool] | None = None) -> int:
    """Run Locust to its end, or until ``cancel``, lateness or ``abandon()`` (asked every :data:`POLL_S`) stops
    it; its exit status."""
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env={**environment, CALLER_CONCLUDES: "1"},
                                   start_new_session=True)
    try:
        late = time.monotonic() + duration_s + LATE_S
        while not _exited(process.pid, POLL_S):
            if cancel.cancelled:
                _stop(process.pid, cancel)
                break
            if time.monotonic() > late:
                _stop(process.pid, None)
                return KILLED_LATE
            if abandon is not None and abandon():
                _stop(process.pid, None)
                return ABANDONED
    finally:
        _kill_group(process.pid)  # leftovers (workers whose master died) before reaping frees the group id
        process.wait()
    return process.returncode


def _exited(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` for ``pid`` to exit, leaving it unreaped (so its process group id stays taken)."""
    deadline = time.monotonic() + timeout
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(0.05, left))


def _stop(pid: int, cancel: Cancel | None) -> None:
    """SIGINT to Locust's main process and its grace period (not when late nor after a second signal), then
    SIGTERM to the group, then SIGKILL."""
    if cancel is not None:
        _signal(pid, signal.SIGINT)
        deadline = time.monotonic() + GRACE_S
        while not cancel.hurry and time.monotonic() < deadline:
            if _exited(pid, POLL_S):
                return
    _kill_group(pid, signal.SIGTERM)
    if not _exited(pid, TERM_S):
        _kill_group(pid)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _kill_group(pgid: int, signum: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):  # none left (a zombie leader alone counts as none)
        pass
