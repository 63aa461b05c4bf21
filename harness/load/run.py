"""``capture-harness load``: one bounded, headless Locust run, its report, thresholds and delivery ledger.

Locust runs as a subprocess (it monkey-patches the interpreter with gevent, and ``--processes`` forks),
so this module never imports it.  Without a URL the reference endpoint is started as another subprocess
(:class:`harness.server.process.ServeProcess`), with its store in a temporary directory removed after
the run.  Before Locust starts only the first few chunks of each stream are generated
(:data:`harness.load.supply.PREPARED`, whatever ``-t``): each Locust process's generator process makes the
rest while the run goes, a bounded window ahead (:mod:`harness.load.supply`).
Afterwards the run's results are read back (:mod:`harness.load.results`), the ledgers reconciled with what
the endpoint stored (the embedded endpoint's store is drained into a tally as the run goes, so that its disk
does not grow with ``-t``: :mod:`harness.load.stored`), and the summary written and printed
(:mod:`harness.load.summary`).  Exit status: 0
all well, 1 a check failed (by default: any request failed, none was answered, an acknowledged event was
lost, or an open-model send was missed; see :mod:`harness.load.verdict`), 2 usage errors.

The report directory never holds the API key in full, so it can be shared (a CI artifact).  What does hold
it stays out: the bodies of failed requests live under ``.capture-harness/failed-bodies`` (capped,
:mod:`harness.load.housekeeping`), the traffic supply's chunks in a temporary folder removed after the run
(also when cancelled), and the embedded endpoint's store is temporary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from harness._data import data_file
from harness.load import (
    cluster,
    conclusion,
    corpus,
    eventids,
    files,
    housekeeping,
    ledger,
    locustproc,
    progress,
    results,
    stored,
    supply,
    transport,
)
from harness.load.cancel import Cancel, Cancelled
from harness.load.options import LoadOptions, Thresholds, UsageError
from harness.safety import TargetError, check_url, mask_token
from harness.server.process import ServeError, ServeProcess, inspect_headers

__all__ = ["MAX_DURATION_S", "LoadOptions", "Thresholds", "UsageError", "check_target",
           "locustfile", "run"]

MAX_DURATION_S = 24 * 3600
"""No run is unbounded: the longest duration ``load`` accepts."""


def locustfile(scenario: str) -> Path:
    """The locustfile of ``scenario``: beside the package in a checkout, inside it when installed."""
    try:
        return data_file("locustfiles", f"{scenario}.py")
    except FileNotFoundError as error:
        raise UsageError(f"no locustfile for scenario {scenario!r}: {error}") from None


def check_target(url: str, allow_production: bool) -> None:
    try:
        check_url(url, allow_production=allow_production, option="--url", allow_option="--allow-production",
                  job="load tests send as many events as they can")
    except TargetError as error:
        raise UsageError(str(error)) from None


def run(options: LoadOptions) -> int:
    """Run the load test; returns the exit status (``128 + signal`` when SIGINT or SIGTERM cancelled it:
    130, 143; :mod:`harness.load.cancel`)."""
    _check(options)
    report_dir = options.report_dir
    _clear(report_dir)
    seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
    housekeeping.enforce_caps(options.corpus_dir, options.bodies_dir)
    with Cancel() as cancel:
        ran = _execute(options, seed, cancel)
        outcome = conclusion.summarise(options, ran.url, seed, ran.stats, ran.failures, ran.delivery,
                                       ran.locust_status)
        outcome.update(_cancellation(cancel, ran, options))
        if cancel.cancelled:  # what ran may have met every check, but the run did not: no pass
            outcome["verdict"] = {**outcome["verdict"], "passed": False, "cancelled": True}
        conclusion.publish(outcome, report_dir)
    housekeeping.enforce_caps(options.corpus_dir, options.bodies_dir)
    if cancel.cancelled:
        return cancel.exit_status
    return 0 if outcome["verdict"]["passed"] else 1


@dataclasses.dataclass
class _Ran:
    """What a run did, for its summary; as it stands when cancelled before Locust started."""

    url: str
    locust_status: int | None = None
    """None: Locust never started."""
    ran_s: float = 0.0
    """Seconds Locust ran until it ended or the run was cancelled."""
    stats: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    failures: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    delivery: ledger.Reconciliation = dataclasses.field(
        default_factory=lambda: ledger.Reconciliation(0, 0, 0, 0, 0, 0, (), checked=False))


def _execute(options: LoadOptions, seed: int, cancel: Cancel) -> _Ran:
    """Prepare, run Locust, read back and reconcile; stops early, with what ran so far, when cancelled.
    Whatever happens, the reference endpoint is stopped and the temporary folders removed before it returns."""
    ran = _Ran(url=(options.url or "the reference endpoint (not started)").rstrip("/"))
    try:
        with contextlib.ExitStack() as stack:
            with cancel.interruptible():
                corpus_dir = stack.enter_context(_corpus_dir(options))
                ran.url = stack.enter_context(_endpoint(options))
                options = dataclasses.replace(options, corpus_dir=corpus_dir)
                if options.master is None:  # a master's workers make their own streams
                    _prepare(options, seed)
            cancel.phase = "run"
            started_ms, started = int(time.time() * 1000), time.monotonic()
            drain = stack.enter_context(_drain(options, ran.url, seed, started_ms))
            ran.locust_status = _run_locust(options, ran.url, seed, cancel)
            ran.ran_s = (cancel.at if cancel.at is not None else time.monotonic()) - started
            ran.stats, ran.failures = conclusion.read_results(options.report_dir)
            cancel.phase = "reconciliation"
            ran.delivery = _reconcile(options, ran.url, started_ms, cancel, drain)
    except Cancelled:
        pass  # the context managers have cleaned up; the summary says what ran
    return ran


def _cancellation(cancel: Cancel, ran: _Ran, options: LoadOptions) -> dict[str, Any]:
    """``cancelled`` for the summary and, when it was, ``cancel``: the signal, when and in which phase."""
    if not cancel.cancelled:
        return {"cancelled": False}
    return {"cancelled": True, "cancel": {"signal": cancel.name, "phase": cancel.cancelled_in,
                                          "after_s": round(ran.ran_s, 1), "planned_s": options.duration_s}}


def _clear(report_dir: Path) -> None:
    """The report directory, made if need be, without the files of an earlier run that this one may not
    rewrite (ledgers, failure details, final stats, latency report, Locust's CSV files)."""
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--report-dir {report_dir}: cannot create it ({error.strerror or error}); it must be "
                         "a directory") from None
    files.remove_stale(report_dir, (*files.READ_BACK, f"{files.CSV_PREFIX}_*.csv", files.WORKERS, files.WORKER_STATE,
                                    files.MASTER_MARKER))


def _reconcile(options: LoadOptions, url: str, started_ms: int, cancel: Cancel,
               drain: stored.Drain | None) -> ledger.Reconciliation:
    """The delivery ledger reconciled with the endpoint's store (what ``drain`` folded of it, and the rest), with
    status lines (pages read); a cancelled run still reconciles what it sent, unless a second signal (or one
    during reconciliation) says to stop."""
    read = [0, 0]  # pages, events

    def on_page(events: int) -> None:
        read[0] += 1
        read[1] += events

    try:
        with cancel.interruptible(even_after_cancel=True), \
                progress.Ticker(options.progress_s, lambda: progress.pages_line(*read)):
            delivery = results.delivery(options.report_dir, url, options, started_ms, on_page=on_page) \
                if drain is None else drain.reconcile(options.report_dir, on_page=on_page)
    except Cancelled:
        progress.say("reconciliation cancelled: the delivery ledger is not checked")
        return ledger.reconcile(options.report_dir, None, unchecked="cancelled before the endpoint's store was read")
    if drain is not None:
        held = drain.held()
        progress.say(f"reconciled: {drain.tally.rows:,} stored events drained from the reference endpoint in "
                     f"{drain.pages:,} pages ({read[1]:,} after the run, at most {drain.most:,} at once); "
                     f"rows left in its store: {'?' if held is None else f'{held:,}'}")
    elif read[0]:
        progress.say(f"reconciled: {read[0]:,} pages of /_harness/events read ({read[1]:,} stored events)")
    return delivery


def _check(options: LoadOptions) -> None:
    """Refuse, before anything is started or written, a run that is unbounded, aimed at production without
    being allowed to, or whose report directory would hold the corpus cache (its payloads hold the key)."""
    if not 1 <= options.duration_s <= MAX_DURATION_S:
        raise UsageError(f"-t must be between 1 s and {MAX_DURATION_S // 3600} h, got {options.duration_s} s")
    if options.url:
        check_target(options.url, options.allow_production)
    if options.report_dir.exists() and not options.report_dir.is_dir():
        raise UsageError(f"--report-dir {options.report_dir} is a file, not a directory: it must be a directory "
                         "(an existing one, or one to create)")
    if options.corpus_dir.resolve().is_relative_to(options.report_dir.resolve()):
        raise UsageError(f"--report-dir {options.report_dir} would contain the corpus cache {options.corpus_dir}, "
                         "whose payloads hold the API key: choose a report directory of its own, e.g. "
                         "--report-dir capture-harness-report")


@contextlib.contextmanager
def _corpus_dir(options: LoadOptions) -> Iterator[Path]:
    """The supply's spool folders: temporary, removed after the run.  Nothing is cached: a seeded run
    regenerates the same bytes from its seed, a bounded window at a time."""
    with tempfile.TemporaryDirectory(prefix="capture-harness-corpus-") as folder:
        yield Path(folder)


@contextlib.contextmanager
def _drain(options: LoadOptions, url: str, seed: int, started_ms: int) -> Iterator[stored.Drain | None]:
    """The embedded endpoint's drain while the run goes (:mod:`harness.load.stored`), so that its store stays a
    few seconds of events long; none for a ``--url`` target: nothing is ever deleted from a user's endpoint."""
    if options.url:
        yield None
        return
    drain = stored.Drain(url, options.api_key, eventids.run_tag(options.scenario, seed), started_ms,
                         inspect_headers(options.inspect_token))
    with contextlib.closing(drain.start()):
        yield drain


@contextlib.contextmanager
def _endpoint(options: LoadOptions) -> Iterator[str]:
    """The base URL of the endpoint under test: ``options.url``, or the reference endpoint started for the
    run (its stderr in ``server.log``, its store temporary) and stopped after it."""
    if options.url:
        yield options.url.rstrip("/")
        return
    log = options.report_dir / files.SERVER_LOG
    log.unlink(missing_ok=True)  # this run's lines only
    with tempfile.TemporaryDirectory(prefix="capture-harness-store-") as store:
        try:
            # in a session of its own (setsid execs it, so its pid is the server's): a Ctrl-C at the terminal
            # must not stop it before the run has read back what it stored; the run stops it on the way out
            server = ServeProcess(db=Path(store) / "store.sqlite3", log=log, prefix=_OWN_SESSION,
                                  inspect_token=options.inspect_token, args=("--host", options.serve_host))
        except ServeError as error:
            raise UsageError(f"the reference endpoint did not start: {error} (see {log})") from None
        with server:
            print(f"started the reference endpoint at {server.url}", file=sys.stderr)
            yield server.url


_OWN_SESSION = ("setsid",) if shutil.which("setsid") else ()


# --- the first traffic, made before the clock starts -----------------------------------------------------


def _prepare(options: LoadOptions, seed: int) -> None:
    """The first :data:`supply.PREPARED` chunks of each stream, on all cores, so each Locust process's first
    request goes out at once; its generator process makes the rest during the run.  The cost does not depend
    on ``-t``."""
    streams = max(1, options.processes)
    chunks = streams * supply.PREPARED
    progress.say(f"preparing the first {chunks * corpus.CHUNK_SIZE:,} requests ({chunks:,} chunks) of {options.scenario} "
                 f"traffic (seed {seed}); the rest is made during the run, at most {supply.WINDOW} chunks ahead "
                 "per Locust process")
    began, done = time.monotonic(), [0]
    make = partial(supply.prepare, options.corpus_dir, options.scenario, seed, api_key=options.api_key)
    pool = ProcessPoolExecutor(max_workers=min(streams, os.cpu_count() or 1), initializer=_ignore_interrupts)
    try:
        with progress.Ticker(options.progress_s, lambda: progress.chunks_line(done[0] * supply.PREPARED, chunks)):
            for _ in pool.map(make, range(streams)):
                done[0] += 1
    finally:  # cancelled: drop the streams not started, wait for those being made (their files are atomic)
        pool.shutdown(wait=True, cancel_futures=True)
    progress.say(f"prepared {chunks:,} / {chunks:,} chunks in {time.monotonic() - began:.1f} s")


def _ignore_interrupts() -> None:
    """In a pool worker: a Ctrl-C reaches the whole foreground process group, and the run cancels the pool
    itself (without a KeyboardInterrupt traceback from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- Locust ---------------------------------------------------------------------------------------------


def _run_locust(options: LoadOptions, url: str, seed: int, cancel: Cancel) -> int:
    """Locust headless in a subprocess (:mod:`harness.load.locustproc`), its output in ``locust.log``, a
    status line every ``progress_s``; its exit status (-9: killed, late)."""
    report_dir = options.report_dir
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile(options.scenario)), "--headless",
        "-u", str(options.users), "-r", str(options.spawn_rate), "-t", f"{options.duration_s}s",
        "--host", url, "--csv", str(report_dir / files.CSV_PREFIX), "--html", str(report_dir / files.LOCUST_HTML),
        "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "1",
        "--capture-seed", str(seed), "--capture-report-dir", str(report_dir),
        "--capture-corpus-dir", str(options.corpus_dir),
        "--capture-bodies-dir", str(options.bodies_dir),
    ]
    if options.master is not None:  # its processes are the workers elsewhere
        command += cluster.master_arguments(options.master)
    elif options.processes > 1:
        command += ["--processes", str(options.processes)]
    if options.arrival_rate:
        command += ["--capture-arrival-rate", str(options.arrival_rate), "--capture-ramp", str(options.ramp_s)]
    command += ["--csv-full-history"]  # the status lines' p95: of the last 10 s, not of the whole run
    command += options.locust_args  # `load ... -- ARGS`: last, so they can override
    environment = {**os.environ, "CAPTURE_HARNESS_API_KEY": options.api_key,  # not on a command line
                   **transport.locust_environment(options)}  # --header, --ca-bundle, --insecure
    model = f", open model {options.arrival_rate:g} req/s" if options.arrival_rate else ""
    model += f", on {options.master.expect_workers} workers" if options.master is not None else ""
    print(f"load: scenario {options.scenario}, {options.users} users{model}, {options.duration_s}s against {url} "
          f"(seed {seed}, api key {mask_token(options.api_key)}); Locust output: {report_dir / files.LOCUST_LOG}",
          file=sys.stderr)
    history, started = progress.StatsHistory(report_dir), time.time()
    with progress.Ticker(options.progress_s, lambda: cluster.waiting_line(report_dir, options.master, started)
                         or progress.run_line(history, options.duration_s, started)):
        status = locustproc.run(command, environment, report_dir / files.LOCUST_LOG,
                                options.duration_s + cluster.allowance_s(options.master), cancel)
    if history.read() is not None:
        progress.say(progress.run_line(history, options.duration_s, started))  # the last figures
    if cancel.cancelled:
        progress.say(f"cancelled ({cancel.name}): Locust stopped (exit status {status})")
    return status
