"""``capture-harness load``: one bounded, headless Locust run, its report, thresholds and delivery ledger.

Locust runs as a subprocess (it monkey-patches the interpreter with gevent, and ``--processes`` forks),
so this module never imports it.  Without a URL the reference endpoint is started as another subprocess,
with its store in a temporary directory removed after the run.  Afterwards the module reads the final stats
Locust's process wrote (``locust-final.json``; Locust's own ``--csv`` files can miss the last second),
reconciles the ledgers with what the endpoint stored, checks the thresholds, writes ``summary.json`` and
prints a summary.  Exit status: 0 all well, 1 a threshold broken or events lost, 2 usage errors.

The report directory never holds the API key in full, so it can be shared (a CI artifact).  What does hold
it stays out: the corpus cache and the bodies of failed requests live under the corpus directory
(``.capture-harness/corpus``; a report directory that would contain it is refused), and the embedded
endpoint's store is temporary.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tqdm import tqdm

from harness._data import data_file
from harness.load import corpus, latency, ledger
from harness.safety import TargetError, check_url, mask_token

MAX_DURATION_S = 24 * 3600
"""No run is unbounded: the longest duration ``load`` accepts."""


class UsageError(Exception):
    """A setting the run cannot start with; the message says what to change."""


@dataclass(frozen=True)
class Thresholds:
    max_p95_ms: float | None = None
    max_p99_ms: float | None = None
    max_error_rate: float | None = None
    min_rps: float | None = None


@dataclass(frozen=True)
class LoadOptions:
    url: str | None
    api_key: str
    scenario: str
    users: int
    spawn_rate: float
    duration_s: int
    processes: int
    report_dir: Path
    seed: int | None
    thresholds: Thresholds = field(default_factory=Thresholds)
    allow_production: bool = False
    corpus_dir: Path = corpus.DEFAULT_CACHE_DIR
    bodies_dir: Path = corpus.FAILED_BODIES_DIR
    arrival_rate: float | None = None
    """Open model: requests/s in total, on a plan (:mod:`harness.load.openmodel`); None for the closed loop."""
    ramp_s: float = 0.0


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
    if not 1 <= options.duration_s <= MAX_DURATION_S:
        raise UsageError(f"-t must be between 1 s and {MAX_DURATION_S // 3600} h, got {options.duration_s} s")
    if options.url:
        check_target(options.url, options.allow_production)
    report_dir = options.report_dir
    if options.corpus_dir.resolve().is_relative_to(report_dir.resolve()):
        raise UsageError(f"--report-dir {report_dir} would contain the corpus cache {options.corpus_dir}, whose "
                         "payloads hold the API key: choose a report directory of its own, e.g. "
                         "--report-dir capture-harness-report")
    report_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*report_dir.glob(ledger.LEDGER_GLOB), *report_dir.glob("failures-*.jsonl"),
                  *report_dir.glob(FINAL_STATS), *report_dir.glob("latency.*")]:
        stale.unlink()
    seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
    with _corpus_dir(options) as corpus_dir, _target(options) as url:
        options = dataclasses.replace(options, corpus_dir=corpus_dir)
        _pregenerate(options, seed)
        started_ms = int(time.time() * 1000)
        locust_status = _run_locust(options, url, seed)
        stats, failures = read_results(report_dir)
        delivery = ledger.reconcile(report_dir, _stored_uuids(url, options.api_key, started_ms))
    summary = _summary(options, url, seed, stats, failures, delivery)
    hdr = latency.read_report(report_dir) if options.arrival_rate else None
    if hdr is not None:  # open model: thresholds apply to the corrected latency
        summary.update(open_model=hdr["plan"], latency_hdr_ms=hdr["latency_ms"])
        summary["report"].update(hlog=hdr["files"]["hlog"], plot=hdr["files"]["plot"])
        _embed_plot(report_dir / "report.html", Path(hdr["files"]["plot"]))
    broken = _broken_thresholds(options.thresholds, latency.corrected_stats(stats, hdr), delivery)
    if options.arrival_rate and hdr is None:
        broken.append(f"the open model's latency report {report_dir / latency.REPORT} is missing (see locust.log)")
    if locust_status not in (0, 1):
        broken.append(f"Locust exited with status {locust_status} (see {report_dir / 'locust.log'})")
    summary["broken_thresholds"] = broken
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(render(summary))
    return 1 if broken else 0


def _embed_plot(html: Path, plot: Path) -> None:
    """Put the open model's percentile plot into Locust's HTML report, so one file shows the run."""
    if not html.is_file() or not plot.is_file():
        return
    section = ("<section style='margin:2em'><h2>Latency from the intended send time (HdrHistogram)</h2>"
               f"{plot.read_text()}</section>")
    page = html.read_text()
    html.write_text(page.replace("</body>", section + "</body>", 1) if "</body>" in page else page + section)


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


# --- the target ---------------------------------------------------------------------------------------


class _target:
    """The endpoint under test: ``options.url``, or the reference endpoint started for the run."""

    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self.process: subprocess.Popen[str] | None = None
        self.store_dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> str:
        if self.options.url:
            return self.options.url.rstrip("/")
        log = (self.options.report_dir / "server.log").open("w")
        self.store_dir = tempfile.TemporaryDirectory(prefix="capture-harness-store-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "serve", "--port", "0",
             "--db", str(Path(self.store_dir.name) / "store.sqlite3")],
            stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"http://\S+", line)
        if not match:
            self.__exit__()
            raise UsageError(f"the reference endpoint did not start: {line!r} (see {log.name})")
        print(f"started the reference endpoint at {match.group(0)}", file=sys.stderr)
        return match.group(0)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.store_dir is not None:
            self.store_dir.cleanup()
            self.store_dir = None


# --- Locust ---------------------------------------------------------------------------------------------


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
    events_per_request = sum(len(request.uuids) for request in first) / len(first)
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


def _run_locust(options: LoadOptions, url: str, seed: int) -> int:
    report_dir = options.report_dir
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile(options.scenario)), "--headless",
        "-u", str(options.users), "-r", str(options.spawn_rate), "-t", f"{options.duration_s}s",
        "--host", url, "--csv", str(report_dir / "locust"), "--html", str(report_dir / "report.html"),
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
          f"(seed {seed}, api key {mask_token(options.api_key)}); Locust output: {report_dir / 'locust.log'}",
          file=sys.stderr)
    with (report_dir / "locust.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        try:
            return process.wait(timeout=options.duration_s + 120)
        except subprocess.TimeoutExpired:
            process.kill()
            return -9


# --- reading the results ----------------------------------------------------------------------------------


FINAL_STATS = "locust-final.json"
"""Written by :mod:`harness.load.user` when Locust quits (``harness.load.user.FINAL_STATS``; not imported: it imports
locust)."""


def read_results(report_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's stats rows (the last one ``Aggregated``) and errors.

    From the final stats :mod:`harness.load.user` writes when Locust quits; Locust's own ``--csv`` files are
    rewritten once a second (and flushed every few), so they can miss the run's last second: the fallback
    only when Locust died before quitting."""
    final = report_dir / FINAL_STATS
    if final.is_file():
        data = json.loads(final.read_text())
        stats = [{k: row[k] for k in ("name", "requests", "failures", "rps", "p50", "p95", "p99", "max")}
                 for row in [*data["entries"], data["aggregated"]]]
        failures = [{"name": e["name"], "error": _title(e["error"]), "occurrences": e["occurrences"]}
                    for e in data["errors"]]
        return stats, failures
    return read_stats(report_dir / "locust_stats.csv"), read_failures(report_dir / "locust_failures.csv")


def read_stats(path: Path) -> list[dict[str, Any]]:
    """Locust's per-name stats CSV as numbers (milliseconds, counts, rates)."""
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append({
                "name": row["Name"], "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]), "p50": _ms(row["50%"]), "p95": _ms(row["95%"]),
                "p99": _ms(row["99%"]), "max": _ms(row["Max Response Time"]),
            })
    return rows


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else float(value)


def read_failures(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{"name": row["Name"], "error": _title(row["Error"]), "occurrences": int(row["Occurrences"])}
                for row in csv.DictReader(handle)]


def _title(error: str) -> str:
    """The failure's own title, without the ``CatchResponseError('...')`` wrapper Locust puts around it."""
    wrapped = re.fullmatch(r"CatchResponseError\((['\"])(.*)\1\)", error)
    return wrapped.group(2) if wrapped else error


def _stored_uuids(url: str, api_key: str, since_ms: int) -> Iterator[str] | None:
    """Every uuid the endpoint stored for this token since the run started, via ``/_harness/events``
    (None when the target has no inspection API)."""
    try:
        urllib.request.urlopen(f"{url}/_harness/stats", timeout=10).read()
    except (urllib.error.URLError, OSError):
        return None

    def pages() -> Iterator[str]:
        after = 0
        while True:
            query = urlencode({"token": api_key, "since": since_ms, "after": after, "limit": 1000})
            with urllib.request.urlopen(f"{url}/_harness/events?{query}", timeout=30) as reply:
                page = json.loads(reply.read())
            for event in page["events"]:
                yield event["uuid"]
            if page["next_after"] is None:
                return
            after = page["next_after"]

    return pages()


def _summary(options: LoadOptions, url: str, seed: int, stats: list[dict[str, Any]],
             failures: list[dict[str, Any]], delivery: ledger.Reconciliation) -> dict[str, Any]:
    total = next((row for row in stats if row["name"] == "Aggregated"), None)
    requests = total["requests"] if total else 0
    return {
        "target": url, "scenario": options.scenario, "seed": seed, "api_key": mask_token(options.api_key),
        "users": options.users, "processes": options.processes, "duration_s": options.duration_s,
        "requests": requests, "failures": total["failures"] if total else 0,
        "error_rate": (total["failures"] / requests) if total and requests else 0.0,
        "rps": total["rps"] if total else 0.0,
        "events_per_s": (delivery.sent * total["rps"] / requests) if total and requests else 0.0,
        "latency_ms": {row["name"]: {k: row[k] for k in ("requests", "failures", "rps", "p50", "p95", "p99", "max")}
                       for row in stats},
        "errors": failures, "delivery": delivery.to_json(),
        "report": {"html": str(options.report_dir / "report.html"), "csv": str(options.report_dir / "locust_stats.csv"),
                   "failure_details": str(options.report_dir / "failures-*.jsonl")},
    }


def _broken_thresholds(thresholds: Thresholds, stats: list[dict[str, Any]],
                       delivery: ledger.Reconciliation) -> list[str]:
    total = next((row for row in stats if row["name"] == "Aggregated"), None)
    if total is None or total["requests"] == 0:
        return ["no request was sent (see locust.log)"]
    broken = []
    error_rate = total["failures"] / total["requests"]
    which = "corrected " if total.get("corrected") else ""
    limits = ((thresholds.max_p95_ms, total["p95"], f"{which}p95 latency", "ms", max),
              (thresholds.max_p99_ms, total["p99"], f"{which}p99 latency", "ms", max),
              (thresholds.max_error_rate, error_rate, "error rate", "", max),
              (thresholds.min_rps, total["rps"], "requests/s", "", min))
    for limit, actual, label, unit, kind in limits:
        if limit is None or actual is None:
            continue
        if (kind is max and actual > limit) or (kind is min and actual < limit):
            word = "above" if kind is max else "below"
            broken.append(f"{label} {actual:.4g}{unit} is {word} the threshold {limit:g}{unit}")
    if delivery.lost:
        broken.append(f"{delivery.lost} acknowledged events were not stored (e.g. {', '.join(delivery.lost_examples[:3])})")
    return broken


def render(summary: dict[str, Any]) -> str:
    """The terminal summary."""
    lines = [f"\n{summary['scenario']} against {summary['target']}: {summary['requests']:,} requests in "
             f"{summary['duration_s']}s, {summary['rps']:,.0f} req/s, {summary['events_per_s']:,.0f} events/s, "
             f"error rate {summary['error_rate']:.2%}", "",
             f"{'name':<26}{'reqs':>9}{'fails':>7}{'req/s':>9}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}  (ms)"]
    for name, row in summary["latency_ms"].items():
        cells = [f"{row[k]:>7.0f}" if row[k] is not None else f"{'-':>7}" for k in ("p50", "p95", "p99")]
        lines.append(f"{name:<26}{row['requests']:>9,}{row['failures']:>7,}{row['rps']:>9,.0f}{''.join(cells)}"
                     f"{row['max'] or 0:>8.0f}")
    if summary["errors"]:
        lines += ["", "errors:"] + [f"  {e['occurrences']:>7,}  {e['name']}: {e['error']}" for e in summary["errors"]]
    d = summary["delivery"]
    if d["checked"]:
        lines += ["", f"delivery: {d['sent']:,} events sent, {d['acknowledged']:,} acknowledged, {d['stored']:,} "
                      f"stored, {d['lost']:,} lost after acknowledgement, {d['duplicated']:,} duplicated, "
                      f"{d['unexpected']:,} unexpected"]
    else:
        lines += ["", f"delivery: {d['sent']:,} events sent, {d['acknowledged']:,} acknowledged "
                      "(not checked: the target has no /_harness/ inspection API)"]
    broken = summary.get("broken_thresholds") or []
    if summary.get("open_model"):
        lines += ["", *latency.render({"plan": summary["open_model"], "latency_ms": summary["latency_hdr_ms"]})]
    lines += ["", *(f"FAILED: {reason}" for reason in broken)] if broken else ["", "all thresholds met"]
    lines.append(f"reports: {summary['report']['html']}, {Path(summary['report']['html']).parent / 'summary.json'}")
    return "\n".join(lines)
