"""Locust glue for the open model (``--capture-arrival-rate``): a plan per process; and, in both models,
HdrHistograms of every request's latency merged at the master.  With :mod:`harness.load.user`, which imports it, one of the only two modules that import
locust and gevent (Locust monkey-patches the standard library with gevent when imported).

- **Plan**: the total rate R is split evenly over the Locust processes that run users.  The master tells
  each worker how many workers there are (message ``capture_plan``, sent before the users are spawned);
  a worker's share is R/N, a standalone process's is R.  Each process's :class:`harness.load.arrivals.Schedule`
  starts when its first user starts (never waiting for the rest to be spawned: Locust's default spawn rate
  is one user a second, so a 50-user run would wait 50 s) and ramps linearly over ``--capture-ramp``.
- **Spawning**: in the open model the users are only the pool that sends the plan (the rate is the plan's),
  so a headless run given no ``-r`` spawns all its users at once instead of Locust's one a second; a run
  whose ``-r`` spawns them over more than a second is warned that sends may be late or missed meanwhile.
- **Users** wait for the plan to start (:func:`wait_for_plan`), take the next slot when they become free
  (:func:`wait_time`, so a user sleeping until its slot is stopped at once when the test ends), sleep until
  it is due and never send early (:func:`due`).  The slot travels from one to the other on the user
  (:class:`PlannedUser`).  A slot more than :data:`harness.load.arrivals.MAX_LAG_S` behind is missed:
  counted, recorded at its lag, and warned about.
- **Histograms** (:mod:`harness.load.latency`): in the open model the user records each answer's corrected
  and uncorrected latency (:func:`record`); in the closed model a listener of Locust's ``request`` event
  records every request Locust counts, at the response time it counts (the service time), unrounded.  They travel with Locust's own worker reports (``report_to_master``
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
from typing import IO, Any, Protocol

import gevent
from gevent.event import Event
from locust import events
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner

from harness.load import files, latency
from harness.load.arrivals import MAX_LAG_S, ArrivalPlan, Schedule
from harness.load.hooks import listener

logger = logging.getLogger("capture-harness")


@listener(events.init_command_line_parser)
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("capture-harness open model")
    group.add_argument("--capture-arrival-rate", type=float, default=0.0, metavar="R",
                       env_var="CAPTURE_HARNESS_ARRIVAL_RATE",
                       help="open model: send R requests/s in total across all users and processes, on a plan, "
                            "and measure latency from each request's intended send time (default 0: closed loop)")
    group.add_argument("--capture-ramp", type=float, default=0.0, metavar="SECONDS", env_var="CAPTURE_HARNESS_RAMP",
                       help="open model: ramp the rate linearly from 0 to R over this many seconds")


class PlannedUser(Protocol):
    """A user in the open model: it keeps the slot it claimed in :func:`wait_time` for its next task."""

    planned_slot: float | None


@dataclass
class _OpenModelRun:
    """This process's part of the open model: its share of the plan, the schedule that hands out its slots,
    the histograms its users record and, at the master or in the only process, their collector and log."""

    environment: Environment | None = None
    rate: float = 0.0
    ramp_s: float = 0.0
    workers: int | None = None
    """How many workers share the plan, as the master said (None: no word from it yet)."""
    schedule: Schedule | None = None
    started: Event = field(default_factory=Event)
    """Set when this process's users are all spawned and its schedule runs."""
    stopping: Event = field(default_factory=Event)
    """Set when the test stops, so that no user waits any longer for a plan to start."""
    recorder: latency.Recorder = field(default_factory=latency.Recorder)
    collector: latency.Collector | None = None
    hlog: IO[str] | None = None
    plans: dict[str, dict[str, float]] = field(default_factory=dict)
    """The latest plan counts of every process, by Locust client id."""
    flusher: Any = None
    """The greenlet that takes this process's own interval every report interval (standalone only)."""
    warned: bool = False


_run = _OpenModelRun()


def is_open() -> bool:
    return _run.rate > 0


# --- the user's side -------------------------------------------------------------------------------------


def wait_for_plan() -> None:
    """Start this process's plan if this is its first user (the plan never waits for the other users to be
    spawned), or wait until it starts or the test stops."""
    if is_open():
        _start_plan()
        gevent.wait([_run.started, _run.stopping], count=1)


def wait_time(user: PlannedUser) -> float:
    """Locust ``wait_time``: in the open model, take the next slot and sleep until it is due."""
    schedule = _run.schedule
    if schedule is None or schedule.stopped is not None:
        return 0.0
    slot = user.planned_slot = _claim(schedule)
    return max(0.0, slot - time.perf_counter())


def due(user: PlannedUser) -> float | None:
    """At the start of a task: the slot's due time (``time.perf_counter()`` clock), after sleeping until it,
    or None in the closed model."""
    schedule = _run.schedule
    if schedule is None:
        return None
    slot, user.planned_slot = user.planned_slot, None
    if slot is None:  # no wait before the user's first task
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
    _run.recorder.record(name, done - slot, done - sent)


def _claim(schedule: Schedule) -> float:
    claim = schedule.claim(time.perf_counter())
    if claim.missed_lags:
        _run.recorder.record_missed(claim.missed_lags)
        if not _run.warned:
            _run.warned = True
            logger.warning("capture-harness: every user was busy and the plan is more than %g s behind: missing "
                           "sends (counted and reported); the load generator, not the endpoint, limits the rate "
                           "now; raise -u or the number of processes", MAX_LAG_S)
    return claim.due


# --- the process's side ------------------------------------------------------------------------------------


@listener(events.init)
def _on_init(environment: Environment, **kwargs: Any) -> None:
    _run.environment = environment
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("capture_plan", _on_plan)
    else:
        _spawn_all_at_once(environment.parsed_options)


def _spawn_all_at_once(options: Any) -> None:
    """Open model, headless: spawn every user at once unless ``-r`` says otherwise (Locust, given no ``-r``,
    spawns one user a second, applied after ``init``); warn when ``-r`` spreads the spawning over more than a
    second, since the plan starts with the first user."""
    if options is None or not getattr(options, "capture_arrival_rate", 0.0):
        return
    users = getattr(options, "num_users", None) or 1
    if getattr(options, "spawn_rate", None) is None:
        options.spawn_rate = float(users)
        logger.info("capture-harness: open model: spawning all %d users within a second (pass -r to spread them)", users)
    elif users / options.spawn_rate > 1:
        logger.warning("capture-harness: open model: spawning %d users at %g/s takes %.0f s, and the plan starts "
                       "with the first user: sends may be late or missed until enough users are up (leave out -r "
                       "to spawn them all at once)", users, options.spawn_rate, users / options.spawn_rate)


def _on_plan(environment: Environment, msg: Any, **kwargs: Any) -> None:
    _run.workers = int(msg.data["workers"])


@listener(events.test_start)
def _on_test_start(environment: Environment, **kwargs: Any) -> None:
    options = environment.parsed_options
    _run.rate = float(getattr(options, "capture_arrival_rate", 0.0) or 0.0)
    _run.ramp_s = float(getattr(options, "capture_ramp", 0.0) or 0.0)
    _run.schedule = None
    _run.started.clear()
    _run.stopping.clear()
    _run.recorder = latency.Recorder()
    _run.plans = {}
    _run.warned = False
    runner = environment.runner
    if is_open():
        ArrivalPlan(_run.rate, _run.ramp_s)  # fails early on nonsense
        if isinstance(runner, MasterRunner):
            runner.send_message("capture_plan", {"workers": runner.worker_count})
    if not isinstance(runner, WorkerRunner) and options is not None:
        report_dir = Path(options.capture_report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        if _run.hlog is not None:
            _run.hlog.close()
        _run.hlog = (report_dir / files.LATENCY_HLOG).open("w")
        _run.collector = latency.Collector(_run.hlog, kinds=latency.KINDS if is_open() else latency.CLOSED_KINDS)
    if not isinstance(runner, (MasterRunner, WorkerRunner)):
        _run.flusher = gevent.spawn(_flush_every_interval)


def _start_plan() -> None:
    """This process's schedule, started by its first user (gevent: no other greenlet runs meanwhile)."""
    environment = _run.environment
    if environment is None or not is_open() or _run.schedule is not None or _run.stopping.is_set() \
            or isinstance(environment.runner, MasterRunner):
        return
    workers = 1
    if isinstance(environment.runner, WorkerRunner):
        workers = _run.workers or max(1, int(getattr(environment.parsed_options, "expect_workers", 1) or 1))
        if _run.workers is None:
            logger.warning("capture-harness: no plan from the master; assuming %d worker(s)", workers)
    _run.schedule = Schedule(ArrivalPlan(_run.rate / workers, _run.ramp_s), time.perf_counter())
    _run.started.set()


@listener(events.test_stopping)
def _on_test_stopping(environment: Environment, **kwargs: Any) -> None:
    _run.stopping.set()
    if _run.schedule is not None:
        _run.schedule.stop(time.perf_counter())


@listener(events.request)
def _on_request(name: str, response_time: float | None, **kwargs: Any) -> None:
    """Closed model: every request Locust counts, at the response time (ms) it counts, into the histograms
    (a request Locust counts without a response time has none to record)."""
    if _run.rate <= 0 and response_time is not None:
        _run.recorder.record_service(name, response_time)


@listener(events.report_to_master)
def _on_report_to_master(client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
    data["capture_latency"] = _report()


@listener(events.worker_report)
def _on_worker_report(client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
    report = data.get("capture_latency")
    if report and _run.collector is not None:
        _take(client_id, report)


def _report() -> dict[str, Any]:
    schedule = _run.schedule
    return {"interval": _run.recorder.take(),
            "plan": schedule.counts(time.perf_counter()) if schedule is not None else None}


def _take(process: str, report: dict[str, Any]) -> None:
    assert _run.collector is not None
    _run.collector.add(report["interval"])
    if report.get("plan") is not None:
        _run.plans[process] = report["plan"]


def _flush_every_interval() -> None:
    while True:
        gevent.sleep(WORKER_REPORT_INTERVAL)
        _take("local", _report())


@listener(events.quit)
def _on_quit(exit_code: int, **kwargs: Any) -> None:
    environment = _run.environment
    if _run.collector is None or environment is None or environment.parsed_options is None:
        return
    if _run.flusher is not None:
        _run.flusher.kill(block=False)
        _run.flusher = None
        _take("local", _report())
    plan = latency.plan_totals(_run.plans.values(), _run.rate, _run.ramp_s, MAX_LAG_S) if is_open() else None
    report = latency.write_report(Path(environment.parsed_options.capture_report_dir), _run.collector, plan)
    _run.collector.close()
    _run.collector = None
    _run.hlog = None
    for line in latency.render(report):
        logger.info("%s", line)
