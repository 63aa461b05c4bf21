"""Locust glue for the open model (``--capture-arrival-rate``): a plan per process, HdrHistograms merged at
the master.  Part of the Locust glue with :mod:`harness.load.user`, which imports it; nothing else should (it
imports locust, which monkey-patches the standard library with gevent).

- **Plan**: the total rate R is split evenly over the Locust processes that run users.  The master tells
  each worker how many workers there are (message ``capture_plan``, sent before the users are spawned);
  a worker's share is R/N, a standalone process's is R.  Each process's :class:`harness.load.arrivals.Schedule`
  starts when all its users are spawned (``spawning_complete``) and ramps linearly over ``--capture-ramp``.
- **Users** take the next slot when they become free (:func:`wait_time`, so a user sleeping until its
  slot is stopped at once when the test ends), sleep until it is due and never send early (:func:`due`).
  A slot more than :data:`harness.load.arrivals.MAX_LAG_S` behind is missed: counted, recorded at its lag, and
  warned about.
- **Histograms** (:mod:`harness.load.latency`) travel with Locust's own worker reports (``report_to_master``
  every 3 s and once more after the users stop): the same channel and timing as Locust's own stats, so the
  merged counts agree with Locust's, and it works across machines, not only with ``--processes``.  The
  master (or the standalone process) adds them up, logs every interval to ``latency.hlog`` and, when Locust
  quits, writes ``latency.json`` and ``latency.svg`` to ``--capture-report-dir``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import gevent
from gevent.event import Event
from locust import events
from locust.exception import StopUser
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_STOPPING

from harness.load import latency
from harness.load.arrivals import MAX_LAG_S, ArrivalPlan, Schedule

logger = logging.getLogger("capture-harness")


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("capture-harness open model")
    group.add_argument("--capture-arrival-rate", type=float, default=0.0, metavar="R",
                       env_var="CAPTURE_HARNESS_ARRIVAL_RATE",
                       help="open model: send R requests/s in total across all users and processes, on a plan, "
                            "and measure latency from each request's intended send time (default 0: closed loop)")
    group.add_argument("--capture-ramp", type=float, default=0.0, metavar="SECONDS", env_var="CAPTURE_HARNESS_RAMP",
                       help="open model: ramp the rate linearly from 0 to R over this many seconds")


@dataclass
class _Process:
    environment: Any = None
    rate: float = 0.0
    ramp_s: float = 0.0
    workers: int | None = None
    schedule: Schedule | None = None
    started: Event = field(default_factory=Event)
    recorder: latency.Recorder = field(default_factory=latency.Recorder)
    collector: latency.Collector | None = None
    hlog: IO[str] | None = None
    plans: dict[str, dict[str, float]] = field(default_factory=dict)
    flusher: Any = None
    warned: bool = False


_process = _Process()


def is_open() -> bool:
    return _process.rate > 0


# --- the user's side -------------------------------------------------------------------------------------


def on_start(user: Any) -> None:
    """Wait until this process's plan starts (all its users spawned)."""
    if not is_open():
        return
    while not _process.started.is_set() and user._state != LOCUST_STATE_STOPPING:
        _process.started.wait(0.1)


def wait_time(user: Any) -> float:
    """Locust ``wait_time``: in the open model, take the next slot and sleep until it is due."""
    schedule = _process.schedule
    if schedule is None or schedule.stopped is not None:
        return 0.0
    user._capture_due = _claim(schedule)
    return max(0.0, user._capture_due - time.perf_counter())


def due(user: Any) -> float | None:
    """At the start of a task: the slot's due time (``time.perf_counter()`` clock), after sleeping until it,
    or None in the closed model."""
    schedule = _process.schedule
    if schedule is None:
        return None
    slot = getattr(user, "_capture_due", None)
    user._capture_due = None
    if slot is None:  # the user's first task
        slot = _claim(schedule)
    while (left := slot - time.perf_counter()) > 0:  # gevent timers may wake a little early
        gevent.sleep(left)
    if schedule.stopped is not None:
        # The test is stopping: send nothing more.  (Locust kills a waiting user asynchronously, so a user
        # whose slot fell due meanwhile would otherwise send and be killed while waiting for the answer.)
        raise StopUser()
    schedule.sent_one()
    return slot


def record(name: str, slot: float | None, sent: float) -> None:
    """The answer to a request sent at ``sent`` for the slot due at ``slot`` has arrived (now)."""
    if slot is None:
        return
    done = time.perf_counter()
    _process.recorder.record(name, done - slot, done - sent)


def _claim(schedule: Schedule) -> float:
    claim = schedule.claim(time.perf_counter())
    if claim.missed_lags:
        _process.recorder.record_missed(claim.missed_lags)
        if not _process.warned:
            _process.warned = True
            logger.warning("capture-harness: every user was busy and the plan is more than %g s behind: missing "
                           "sends (counted and reported); the load generator, not the endpoint, limits the rate "
                           "now; raise -u or the number of processes", MAX_LAG_S)
    return claim.due


# --- the process's side ------------------------------------------------------------------------------------


@events.init.add_listener
def _on_init(environment: Any, **kwargs: Any) -> None:
    _process.environment = environment
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("capture_plan", _on_plan)


def _on_plan(environment: Any, msg: Any, **kwargs: Any) -> None:
    _process.workers = int(msg.data["workers"])


@events.test_start.add_listener
def _on_test_start(environment: Any, **kwargs: Any) -> None:
    options = environment.parsed_options
    _process.rate = float(getattr(options, "capture_arrival_rate", 0.0) or 0.0)
    _process.ramp_s = float(getattr(options, "capture_ramp", 0.0) or 0.0)
    _process.schedule = None
    _process.started.clear()
    _process.recorder = latency.Recorder()
    _process.plans = {}
    _process.warned = False
    if not is_open():
        return
    ArrivalPlan(_process.rate, _process.ramp_s)  # fails early on nonsense
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message("capture_plan", {"workers": runner.worker_count})
    if not isinstance(runner, WorkerRunner):
        report_dir = Path(options.capture_report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        if _process.hlog is not None:
            _process.hlog.close()
        _process.hlog = (report_dir / latency.HLOG).open("w")
        _process.collector = latency.Collector(_process.hlog)
    if not isinstance(runner, (MasterRunner, WorkerRunner)):
        _process.flusher = gevent.spawn(_flush_every_interval)


@events.spawning_complete.add_listener
def _on_spawning_complete(user_count: int, **kwargs: Any) -> None:
    environment = _process.environment
    if not is_open() or _process.schedule is not None or isinstance(environment.runner, MasterRunner):
        return
    workers = 1
    if isinstance(environment.runner, WorkerRunner):
        workers = _process.workers or max(1, int(getattr(environment.parsed_options, "expect_workers", 1) or 1))
        if _process.workers is None:
            logger.warning("capture-harness: no plan from the master; assuming %d worker(s)", workers)
    _process.schedule = Schedule(ArrivalPlan(_process.rate / workers, _process.ramp_s), time.perf_counter())
    _process.started.set()


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **kwargs: Any) -> None:
    if _process.schedule is not None:
        _process.schedule.stop(time.perf_counter())


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
    if is_open():
        data["capture_open"] = _report()


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
    report = data.get("capture_open")
    if report and _process.collector is not None:
        _take(client_id, report)


def _report() -> dict[str, Any]:
    schedule = _process.schedule
    return {"interval": _process.recorder.take(),
            "plan": schedule.counts(time.perf_counter()) if schedule is not None else None}


def _take(process: str, report: dict[str, Any]) -> None:
    assert _process.collector is not None
    _process.collector.add(report["interval"])
    if report.get("plan") is not None:
        _process.plans[process] = report["plan"]


def _flush_every_interval() -> None:
    while True:
        gevent.sleep(WORKER_REPORT_INTERVAL)
        _take("local", _report())


@events.quit.add_listener
def _on_quit(exit_code: int, **kwargs: Any) -> None:
    environment = _process.environment
    if not is_open() or _process.collector is None or environment is None:
        return
    if _process.flusher is not None:
        _process.flusher.kill(block=False)
        _process.flusher = None
        _take("local", _report())
    plan = latency.plan_totals(_process.plans.values(), _process.rate, _process.ramp_s, MAX_LAG_S)
    report = latency.write_report(Path(environment.parsed_options.capture_report_dir), _process.collector, plan)
    _process.collector.close()
    _process.collector = None
    _process.hlog = None
    for line in latency.render(report):
        logger.info("%s", line)
