"""``capture-harness load``: one bounded, headless Locust run, its report, thresholds and delivery ledger.

Locust runs as a subprocess (it monkey-patches the interpreter with gevent, and ``--processes`` forks),
so this module never imports it.  Without a URL the reference endpoint is started as another subprocess
(:class:`harness.server.process.ServeProcess`), with its store in a temporary directory removed after
the run.  Before the clock starts every corpus chunk the run may need is generated, on all cores.
Afterwards the run's results are read back (:mod:`harness.load.results`), the ledgers reconciled with what
the endpoint stored, and the summary written and printed (:mod:`harness.load.summary`).  Exit status: 0
all well, 1 a check failed (by default: any request failed, none was answered, an acknowledged event was
lost, or an open-model send was missed; see :mod:`harness.load.verdict`), 2 usage errors.

The report directory never holds the API key in full, so it can be shared (a CI artifact).  What does hold
it stays out: the corpus cache and the bodies of failed requests live under the corpus directory
(``.capture-harness/corpus``; a report directory that would contain it is refused), and the embedded
endpoint's store is temporary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from harness._data import data_file
from harness.load import corpus, files, latency, ledger, results, summary
from harness.load.options import LoadOptions, Thresholds, UsageError
from harness.safety import TargetError, check_url, mask_token
from harness.server.process import ServeError, ServeProcess

__all__ = ["MAX_DURATION_S", "LoadOptions", "Thresholds", "UsageError", "check_target", "chunks_needed",
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
    """Run the load test; returns the exit status."""
    _check(options)
    report_dir = options.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    for glob in (files.LEDGER_GLOB, files.FAILURES_GLOB, files.FINAL_STATS, files.LATENCY_GLOB):
        for stale in report_dir.glob(glob):
            stale.unlink()
    seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
    with _corpus_dir(options) as corpus_dir, _endpoint(options) as url:
        options = dataclasses.replace(options, corpus_dir=corpus_dir)
        _pregenerate(options, seed)
        started_ms = int(time.time() * 1000)
        locust_status = _run_locust(options, url, seed)
        stats, failures = results.read_results(report_dir)
        delivery = ledger.reconcile(report_dir, results.stored_uuids(url, options.api_key, started_ms))
    hdr = latency.read_report(report_dir) if options.arrival_rate else None
    outcome = summary.build(options, url, seed, stats, failures, delivery, hdr)
    if hdr is not None:
        summary.embed_plot(report_dir / files.HTML_REPORT, Path(hdr["files"]["plot"]))
    outcome.update(summary.judge(options, stats, failures, delivery, hdr, locust_status))
    (report_dir / files.SUMMARY).write_text(json.dumps(outcome, indent=2) + "\n")
    print(summary.render(outcome))
    return 0 if outcome["verdict"]["passed"] else 1


def _check(options: LoadOptions) -> None:
    """Refuse, before anything is started or written, a run that is unbounded, aimed at production without
    being allowed to, or whose report directory would hold the corpus cache (its payloads hold the key)."""
    if not 1 <= options.duration_s <= MAX_DURATION_S:
        raise UsageError(f"-t must be between 1 s and {MAX_DURATION_S // 3600} h, got {options.duration_s} s")
    if options.url:
        check_target(options.url, options.allow_production)
    if options.corpus_dir.resolve().is_relative_to(options.report_dir.resolve()):
        raise UsageError(f"--report-dir {options.report_dir} would contain the corpus cache {options.corpus_dir}, "
                         "whose payloads hold the API key: choose a report directory of its own, e.g. "
                         "--report-dir capture-harness-report")


@contextlib.contextmanager
def _corpus_dir(options: LoadOptions) -> Iterator[Path]:
    """The cache is for replaying: a run with ``--seed`` keeps its corpus for the next run with that seed;
    a run with a random seed generates into a temporary folder removed afterwards (it could only be
    reused by passing its seed, which regenerates the same bytes anyway)."""
    if options.seed is not None:
        yield options.corpus_dir
        return
    with tempfile.TemporaryDirectory(prefix="capture-harness-corpus-") as folder:
        yield Path(folder)


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
            server = ServeProcess(db=Path(store) / "store.sqlite3", log=log)
        except ServeError as error:
            raise UsageError(f"the reference endpoint did not start: {error} (see {log})") from None
        with server:
            print(f"started the reference endpoint at {server.url}", file=sys.stderr)
            yield server.url


# --- the traffic, made before the clock starts ------------------------------------------------------------


PER_USER_RPS = 3000
"""Requests/s one Locust user without think time can send to a fast endpoint (measured 1,900-2,600 against
the reference endpoint on this machine)."""
PER_PROCESS_RPS = 10_000
"""Requests/s one Locust process can send (FastHttpUser; measured up to 8,500 with single events)."""
PER_PROCESS_EVENTS = 50_000
"""Events/s one Locust process can make an endpoint take (the reference endpoint stores about 45,000 a
second on one core: batches are bound by that, not by the request rate)."""


def chunks_needed(options: LoadOptions, events_per_request: float = 1.0) -> int:
    """Chunks each Locust process may use in the run: a generous bound, so tasks never wait for the
    generator (if the endpoint is faster still, the workers generate the rest and say so)."""
    processes = max(1, options.processes)
    rate = min(options.users / processes * PER_USER_RPS, PER_PROCESS_RPS,
               PER_PROCESS_EVENTS / max(1.0, events_per_request))
    if options.arrival_rate:  # the open model sends exactly its plan
        rate = options.arrival_rate / processes
    return math.ceil(rate * options.duration_s / corpus.CHUNK_SIZE) + 1


def _pregenerate(options: LoadOptions, seed: int) -> None:
    """Generate (or find in the cache) every chunk the run may need, on all cores, before the clock starts."""
    first = corpus.load_chunk(options.scenario, seed, 0, 0, options.api_key, options.corpus_dir)
    events_per_request = sum(len(case.uuids) for case in first) / len(first)
    jobs = [(options.scenario, seed, stream, chunk, options.api_key, options.corpus_dir)
            for stream in range(max(1, options.processes))
            for chunk in range(chunks_needed(options, events_per_request))
            if not corpus.cached(options.scenario, seed, stream, chunk, options.api_key, options.corpus_dir)]
    if not jobs:
        return
    print(f"preparing {len(jobs) * corpus.CHUNK_SIZE:,} requests of {options.scenario} traffic before the clock "
          f"starts (seed {seed})", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool, \
            tqdm(total=len(jobs), unit="chunk", desc="preparing",
                 file=sys.stderr, leave=False, disable=None) as progress:  # None: only on a terminal
        for _ in pool.map(_make_chunk, jobs):
            progress.update()


def _make_chunk(job: tuple[str, int, int, int, str, Path]) -> None:
    corpus.load_chunk(*job)


# --- Locust ---------------------------------------------------------------------------------------------


def _run_locust(options: LoadOptions, url: str, seed: int) -> int:
    """Locust headless in a subprocess, its output in ``locust.log``; its exit status (-9: killed, late)."""
    report_dir = options.report_dir
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile(options.scenario)), "--headless",
        "-u", str(options.users), "-r", str(options.spawn_rate), "-t", f"{options.duration_s}s",
        "--host", url, "--csv", str(report_dir / files.CSV_PREFIX), "--html", str(report_dir / files.HTML_REPORT),
        "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "1",
        "--capture-seed", str(seed), "--capture-report-dir", str(report_dir),
        "--capture-corpus-dir", str(options.corpus_dir),
        "--capture-bodies-dir", str(options.bodies_dir),
    ]
    if options.processes > 1:
        command += ["--processes", str(options.processes)]
    if options.arrival_rate:
        command += ["--capture-arrival-rate", str(options.arrival_rate), "--capture-ramp", str(options.ramp_s)]
    environment = {**os.environ, "CAPTURE_HARNESS_API_KEY": options.api_key}  # not on a command line
    model = f", open model {options.arrival_rate:g} req/s" if options.arrival_rate else ""
    print(f"load: scenario {options.scenario}, {options.users} users{model}, {options.duration_s}s against {url} "
          f"(seed {seed}, api key {mask_token(options.api_key)}); Locust output: {report_dir / files.LOCUST_LOG}",
          file=sys.stderr)
    with (report_dir / files.LOCUST_LOG).open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        try:
            return process.wait(timeout=options.duration_s + 120)
        except subprocess.TimeoutExpired:
            process.kill()
            return -9
