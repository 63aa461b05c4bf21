"""Locust glue: the base user the locustfiles subclass.  With :mod:`harness.load.openmodel` and
:mod:`harness.load.distributed`, one of the only harness modules that import locust (which monkey-patches
the standard library with gevent when imported); ``from harness.load import CaptureUser`` reaches this one lazily.

Each request is taken ready-made from the seeded corpus, which this process's traffic supply (a generator
process a bounded window of chunks ahead, :mod:`harness.load.supply`) makes while the run goes: a
:class:`harness.checks.Case`, sent with ``FastHttpUser``, named in Locust's stats by scenario step
(``batch posthog-node``, ``browser gzip-js``, ...), its answer checked against that same case with the
contract suite's checks (:mod:`harness.checks`), and recorded in this process's delivery ledger
(:mod:`harness.load.ledger`).  A failure's stable title goes to Locust (which groups errors by exact
text); its detail and a curl command that sends exactly the failing request
(:mod:`harness.load.reproduce`) go to ``failures-<pid>.jsonl`` in the report directory, with the API key
masked.  A body holding the key, or too long or not printable for the curl command, goes to a file under
``--capture-bodies-dir`` (``.capture-harness/failed-bodies/``), not into the report directory: bodies hold
the API key in full, and the report directory is meant to be shared.

When the run ends, the process that owns the run's stats (the master, or the only process) writes them to
``locust-final.json`` in the report directory (:data:`harness.load.files.FINAL_STATS`): Locust's ``--csv``
files are snapshots taken every second, so they miss the run's last moments.

Options (``locust ... --capture-seed 7``): ``--capture-seed``, ``--capture-api-key``,
``--capture-report-dir``, ``--capture-corpus-dir``, ``--capture-bodies-dir``; the open model's
``--capture-arrival-rate`` and ``--capture-ramp`` (:mod:`harness.load.openmodel`); ``--capture-header``,
``--capture-ca-bundle`` and ``--capture-insecure`` (:mod:`harness.load.transport`: certificates are verified).
"""

from __future__ import annotations

import gc
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from gevent import GreenletExit
from locust import FastHttpUser, events, task
from locust.contrib.fasthttp import FAILURE_EXCEPTIONS
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import StatsEntry

from harness.checks import MAX_ANSWER_BYTES, Case, Failure, Reply, Title, first_failure
from harness.load import corpus, distributed, files, housekeeping, openmodel, transport, v1_answers
from harness.load.hooks import listener
from harness.load.ledger import LedgerWriter
from harness.load.outcomes import OutcomeLedger
from harness.load.reproduce import failure_curl
from harness.load.scenarios import PER_EVENT
from harness.load.supply import Supply
from harness.safety import mask_token
from harness.spec.body import DEFAULT_TOKEN

logger = logging.getLogger("capture-harness")


@listener(events.init_command_line_parser)
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("capture-harness")
    group.add_argument("--capture-seed", type=int, default=None, env_var="CAPTURE_HARNESS_SEED",
                       help="corpus seed (default: random, so runs never resend old uuids)")
    group.add_argument("--capture-api-key", default=DEFAULT_TOKEN, env_var="CAPTURE_HARNESS_API_KEY",
                       help="project token put in the payloads")
    group.add_argument("--capture-report-dir", default="capture-harness-report", env_var="CAPTURE_HARNESS_REPORT_DIR",
                       help="where ledger and failure files go")
    group.add_argument("--capture-corpus-dir", default=str(corpus.DEFAULT_CACHE_DIR),
                       env_var="CAPTURE_HARNESS_CORPUS_DIR", help="where the traffic supply spools its chunks (a few, removed after the run)")
    group.add_argument("--capture-bodies-dir", default=str(corpus.FAILED_BODIES_DIR),
                       env_var="CAPTURE_HARNESS_BODIES_DIR", help="where bodies of failed requests are written")
    transport.add_locust_options(group)  # --capture-header, --capture-ca-bundle, --capture-insecure


# --- the final stats ------------------------------------------------------------------------------------


class _FinalStats:
    """Writes the run's final stats when Locust quits, from the process that owns them.

    ``quit`` fires after the runner has stopped (and, on a master, after the workers' last reports), but
    passes no environment: the one ``init`` gave is kept here until then."""

    def __init__(self) -> None:
        self.environment: Environment | None = None

    def remember(self, environment: Environment, **kwargs: Any) -> None:
        self.environment = environment

    def write(self, **kwargs: Any) -> None:
        environment = self.environment
        runner = environment.runner if environment is not None else None
        if environment is None or runner is None or isinstance(runner, WorkerRunner) \
                or environment.parsed_options is None:
            return
        stats = runner.stats
        entries = sorted(stats.entries.values(), key=lambda entry: (entry.name, entry.method or ""))
        # Locust leaves StatsError.to_dict unannotated
        errors = [error.to_dict() for error in stats.errors.values()]  # type: ignore[no-untyped-call]
        final = {
            "entries": [_entry(entry, entry.name) for entry in entries if entry.num_requests or entry.num_failures],
            "aggregated": _entry(stats.total, files.TOTAL),
            "errors": errors,
        }
        report_dir = Path(environment.parsed_options.capture_report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / files.FINAL_STATS).write_bytes(orjson.dumps(final, option=orjson.OPT_INDENT_2))


def _entry(entry: StatsEntry, name: str) -> dict[str, Any]:
    answered = entry.num_requests - entry.num_none_requests
    return {
        "name": name, "method": entry.method, "requests": entry.num_requests, "failures": entry.num_failures,
        "rps": entry.total_rps,
        **{key: (float(entry.get_response_time_percentile(p)) if answered else None)
           for key, p in files.STATS_PERCENTILES.items()},
        "max": float(entry.max_response_time) if answered else None,
    }


_final_stats = _FinalStats()
listener(events.init)(_final_stats.remember)
listener(events.quit)(_final_stats.write)


# --- each scenario's traffic in this process --------------------------------------------------------------


@dataclass
class _ScenarioTraffic:
    """One scenario's traffic in this process: the cases its users send, and where their answers go."""

    supply: Supply
    cases: Iterator[Case]
    ledger: LedgerWriter
    failures: IO[bytes]
    api_key: str
    base_url: str
    bodies_dir: Path
    passing: set[tuple[int, int, str, bytes]] = field(default_factory=set)
    """(expected status, status, content type, body) of small answers that passed every check: the
    checks depend on nothing else, so a repeated answer is recognised instead of checked again."""


_traffic: dict[str, _ScenarioTraffic] = {}
"""This process's traffic by scenario, made when its first user starts."""


def _traffic_of(user: FastHttpUser, scenario: str) -> _ScenarioTraffic:
    """This process's stream of ``scenario`` cases, ledger and failure file, made on first use."""
    traffic = _traffic.get(scenario)
    if traffic is None:
        options = user.environment.parsed_options
        assert options is not None  # a user runs under Locust's command line
        runner = user.environment.runner
        stream = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        seed = options.capture_seed if options.capture_seed is not None else int.from_bytes(os.urandom(4), "big")
        report_dir = Path(options.capture_report_dir)
        supply = Supply(Path(options.capture_corpus_dir), scenario, seed, stream, options.capture_api_key,
                        on_wait=_waiting)
        traffic = _ScenarioTraffic(
            supply=supply, cases=supply.cases(),
            ledger=(OutcomeLedger if scenario in PER_EVENT else LedgerWriter)(report_dir, scenario, seed, stream),
            failures=(report_dir / files.of_process(files.FAILURES_GLOB, os.getpid())).open("ab"),
            api_key=options.capture_api_key, base_url=user.host or "",
            bodies_dir=Path(options.capture_bodies_dir).resolve(),
        )
        _traffic[scenario] = traffic  # before the generator starts, which yields to the other users' on_start
        # The supply decodes 1,000 cases a chunk: they outlive young collections and set off full ones, each
        # of which walked the ~60k objects Locust made at startup (~20 ms).  Frozen, those are never walked
        # again: the collector's cost per request falls from ~2.4 to ~1.1 us (measured, capture scenario).
        gc.freeze()
        supply.start()
    return traffic


def _waiting(chunk: int) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("capture-harness: the traffic generator is behind (chunk %d was not ready): users wait "
                       "for it, so the load generator, not the endpoint, is the bottleneck here", chunk)


_warned = False


listener(events.quit)(distributed.ship)  # a worker's files to the master, once _close (quitting) closed them


@listener(events.quitting)
def _close(environment: Environment, **kwargs: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        return
    for traffic in _traffic.values():
        traffic.ledger.close()
        traffic.failures.close()
        traffic.supply.close()
        if traffic.supply.waits:
            logger.warning("capture-harness: users waited for the traffic generator %d times", traffic.supply.waits)
    if environment.parsed_options is not None:
        housekeeping.enforce_caps(Path(environment.parsed_options.capture_corpus_dir),
                                  Path(environment.parsed_options.capture_bodies_dir))


# --- the user ---------------------------------------------------------------------------------------------


UNANSWERED_AFTER_S = 1.0
"""How long a request must have waited, when the run ends, to count as unanswered: far above any answer a
healthy endpoint gives, far below a run's length."""


class CaptureUser(FastHttpUser):
    """Sends the ``scenario``'s corpus as fast as the endpoint answers (no think time), or, with
    ``--capture-arrival-rate``, on the open model's plan (:mod:`harness.load.openmodel`)."""

    abstract = True
    scenario = "mixed"
    wait_time = openmodel.wait_time
    planned_slot: float | None = None
    """The open model's slot this user claimed while waiting, for its next task (:class:`openmodel.PlannedUser`)."""
    _traffic: _ScenarioTraffic
    _next_case: Callable[[], Case]
    _open_model: bool
    _run_headers: dict[str, str]
    _resends: v1_answers.Resends | None = None
    """A per-event scenario's resends waiting for their time (:meth:`_send_v1`)."""

    def __init__(self, environment: Environment) -> None:
        # before FastHttpUser builds its client: verify certificates (its default is not to), send the headers
        settings = transport.user_transport(environment.parsed_options)
        self.insecure, self.ssl_context_factory = settings.insecure, settings.ssl_context_factory
        self.default_headers = self._run_headers = settings.headers
        super().__init__(environment)

    def _unanswered_at_end(self, case: Case, sent: float) -> None:
        """Account for a request the run's end interrupted.  Its events were sent but not acknowledged (the
        ledger says so).  One that had waited :data:`UNANSWERED_AFTER_S` is also a failure: Locust would drop
        it, and a target that accepts connections and never answers would then look like one that was never
        sent anything; a request merely in flight at the end of a healthy run is not."""
        self._traffic.ledger.record(0, case.event_span)
        if time.perf_counter() - sent < UNANSWERED_AFTER_S:
            return
        title = Title.UNANSWERED_AT_END
        self.environment.events.request.fire(
            request_type=case.request.method, name=case.name, response_time=(time.perf_counter() - sent) * 1000,
            response_length=0, exception=CatchResponseError(str(title)), context={}, response=None,
            url=case.request.target)
        _write_failure(self._traffic, case, Failure(title, "no answer when the run ended"), self._run_headers)

    def on_start(self) -> None:
        openmodel.wait_for_plan()
        # looked up once per user: the task below runs thousands of times a second
        self._traffic = _traffic_of(self, self.scenario)
        self._next_case = self._traffic.cases.__next__
        self._open_model = openmodel.is_open()
        self._resends = v1_answers.Resends() if self.scenario in PER_EVENT else None

    @task
    def send(self) -> None:
        if self._resends is not None:
            self._send_v1(self._resends)
            return
        traffic = self._traffic
        due = openmodel.due(self) if self._open_model else None
        case = self._next_case()
        answer, sent = self._request(case)
        with answer as response:
            if due is not None:
                openmodel.record(case.name, due, sent)
            status = response.status_code or 0
            traffic.ledger.record(status, case.event_span)
            if status == 0:
                title, detail = transport.failure(response.error, traffic.base_url)  # refused, reset, TLS, ...
                response.failure(str(title))  # the text: Locust groups errors by their repr
                _write_failure(traffic, case, Failure(title, detail), self._run_headers)
                return
            try:
                body = _read_capped(response)
            except FAILURE_EXCEPTIONS as error:  # the body broke off (reset, timed out, not HTTP): no whole answer
                title, detail = transport.failure(error, traffic.base_url)
                response.failure(str(title))
                _write_failure(traffic, case, Failure(title, f"{case.name}: answered {status}, then {detail}"),
                               self._run_headers)
                return
            if body is None:
                response.failure(f"{Title.ANSWER_TOO_LARGE} ({status})")
                _write_failure(traffic, case, Failure(Title.ANSWER_TOO_LARGE, (
                    f"{case.name}: answered {status} with a body longer than {MAX_ANSWER_BYTES:,} bytes (not read "
                    "further; connection dropped)")), self._run_headers)
                return
            content_type = response.headers.get("content-type", "")
            verdict = (case.expect_status, status, content_type, body)
            if verdict in traffic.passing:  # the same answer to the same expectation passed before
                response.success()
                return
            location = {"location": response.headers["location"]} if 300 <= status < 400 \
                and "location" in response.headers else {}
            failure = first_failure(case, Reply(status, body, {"content-type": content_type, **location}))
            if failure is None:
                response.success()
                if len(body) <= 256:
                    traffic.passing.add(verdict)
            else:
                response.failure(f"{failure.title} ({status})")  # Locust groups errors by status and title
                _write_failure(traffic, case, failure, self._run_headers)


    def _request(self, case: Case) -> tuple[Any, float]:
        """Send ``case``; the answer's context manager and the moment it was sent.  A run that ends while it
        waits counts it as unanswered (:meth:`_unanswered_at_end`), so it is not lost from the figures."""
        request, sent = case.request, time.perf_counter()
        try:
            return self.client.request(request.method, request.target, name=case.name,
                                       data=request.body,  # type: ignore[arg-type]  # Locust's annotation omits bytes
                                       headers=request.headers, catch_response=True,
                                       allow_redirects=False,  # a 3xx is a finding, never resent as a GET
                                       stream=True), sent  # the body is read after, at most MAX_ANSWER_BYTES of it
        except GreenletExit:
            self._unanswered_at_end(case, sent)
            raise

    def _send_v1(self, resends: v1_answers.Resends) -> None:
        """A due resend, else the next case; its answer read per event (:mod:`harness.load.v1_answers`), the
        outcomes in the ledger, the retries queued.  The ledger records a request once, at its first attempt."""
        traffic, due = self._traffic, openmodel.due(self) if self._open_model else None
        attempt = resends.due(time.monotonic()) or v1_answers.first(self._next_case(), time.monotonic())
        case = attempt.case
        answer, sent = self._request(case)  # a resend cut off at the end: its events stay retrying, never lost
        with answer as response:
            if due is not None:
                openmodel.record(case.name, due, sent)
            status = response.status_code or 0
            if attempt.number == 1:
                traffic.ledger.record(status, case.event_span, per_event=True)
            outcome = self._v1_outcome(response, attempt, status)
            if outcome.failure is None:
                response.success()
            else:
                response.failure(f"{outcome.failure.title} ({status})" if status else str(outcome.failure.title))
                _write_failure(traffic, case, outcome.failure, self._run_headers)
            assert isinstance(traffic.ledger, OutcomeLedger)  # a per-event scenario's
            resends.settle(traffic.ledger, attempt, outcome, time.monotonic())

    def _v1_outcome(self, response: Any, attempt: v1_answers.Attempt, status: int) -> v1_answers.Outcome:
        base_url, name = self._traffic.base_url, attempt.case.name
        if status == 0:
            return v1_answers.unanswered(attempt, Failure(*transport.failure(response.error, base_url)))
        try:
            body = _read_capped(response)
        except FAILURE_EXCEPTIONS as error:  # the body broke off: no whole answer
            title, detail = transport.failure(error, base_url)
            return v1_answers.unanswered(attempt, Failure(title, f"{name}: answered {status}, then {detail}"))
        if body is None:
            return v1_answers.Outcome(Failure(Title.ANSWER_TOO_LARGE, f"{name}: answered {status} with a body "
                                                                      f"longer than {MAX_ANSWER_BYTES:,} bytes"))
        headers = {key: value for key in v1_answers.ANSWER_HEADERS if (value := response.headers.get(key)) is not None}
        return v1_answers.judge(attempt, Reply(status, body, headers))


def _read_capped(response: Any) -> bytes | None:
    """The answer's body (gzip or deflate undone), reading at most :data:`MAX_ANSWER_BYTES` (+1) of it; None when
    it is longer: the connection is then dropped, the rest never read.  (``response.content`` would read it all.)"""
    stream = response.stream  # geventhttpclient's response: released, or dropped when not complete, below
    try:
        raw = bytes(stream.read(MAX_ANSWER_BYTES + 1))
        if len(raw) > MAX_ANSWER_BYTES:
            return None
        encoding = (response.headers.get("content-encoding") or "identity").lower()
        if encoding in ("gzip", "deflate") and raw:
            inflate = zlib.decompressobj(31 if encoding == "gzip" else zlib.MAX_WBITS)
            raw = inflate.decompress(raw, MAX_ANSWER_BYTES + 1)
            if len(raw) > MAX_ANSWER_BYTES or inflate.unconsumed_tail:
                return None
        return raw
    finally:
        stream.release()


def _write_failure(traffic: _ScenarioTraffic, case: Case, failure: Failure, headers: dict[str, str]) -> None:
    secret = "" if traffic.api_key == DEFAULT_TOKEN else traffic.api_key  # the public placeholder shows as is
    command = failure_curl(case.request, traffic.base_url, traffic.bodies_dir, secret, headers)
    record = {"time": time.time(), "name": case.name, "title": failure.title, "detail": failure.detail,
              "curl": command}
    masked = orjson.dumps(record)
    if secret:  # the command holds no key; a detail's body excerpt may
        masked = masked.replace(secret.encode(), mask_token(secret).encode())
    traffic.failures.write(masked + b"\n")
    traffic.failures.flush()
