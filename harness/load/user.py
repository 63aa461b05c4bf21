"""Locust glue: the base user the locustfiles subclass.  With :mod:`harness.load.openmodel` and
:mod:`harness.load.distributed`, one of the only harness modules that import locust (which monkey-patches
the standard library with gevent when imported); ``from harness.load import CaptureUser`` reaches this one lazily.

Each request is taken ready-made from the seeded corpus, which this process's traffic supply (a generator
process a bounded window of chunks ahead, :mod:`harness.load.supply`) makes while the run goes: a
:class:`harness.checks.Case`, sent by :mod:`harness.load.sender`, named in Locust's stats by scenario step
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from gevent import GreenletExit
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import StatsEntry

from harness.checks import MAX_ANSWER_BYTES, Case, Failure, Reply, Title, first_failure
from harness.load import conclusion, corpus, distributed, files, housekeeping, openmodel, transport, v1_answers
from harness.load.hooks import listener
from harness.load.ledger import LedgerWriter
from harness.load.outcomes import OutcomeLedger
from harness.load.reproduce import failure_curl
from harness.load.scenarios import PER_EVENT
from harness.load.sender import Answer, Sender
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
    conclusion.add_threshold_options(group, "capture-", "CAPTURE_HARNESS_")  # --capture-max-p95 ...


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


# --- the run's conclusion, in plain Locust ----------------------------------------------------------------

_plain_run = conclusion.PlainRun()


@listener(events.init)
def _plan_conclusion(environment: Environment, **kwargs: Any) -> None:
    """A standalone Locust or a master that capture-harness did not start concludes the run when it quits
    (:mod:`harness.load.conclusion`); its ``quit`` listener, registered now, runs after every module's."""
    if environment.parsed_options is not None and conclusion.concludes(isinstance(environment.runner, WorkerRunner)):
        _plain_run.begin(environment.parsed_options)
        listener(events.test_start)(_plain_run.test_started)
        listener(events.quit)(lambda exit_code, **_: _plain_run.conclude(environment, exit_code))


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
    ``--capture-arrival-rate``, on the open model's plan (:mod:`harness.load.openmodel`).

    Its requests go through a lean :class:`harness.load.sender.Sender` (half the CPU a request costs through
    ``FastHttpSession``; why there), reported to Locust's ``request`` event here; ``self.client`` stays
    ``FastHttpUser``'s, for a locustfile's own tasks."""

    abstract = True
    scenario = "mixed"
    wait_time = openmodel.wait_time
    planned_slot: float | None = None
    """The open model's slot this user claimed while waiting, for its next task (:class:`openmodel.PlannedUser`)."""
    _traffic: _ScenarioTraffic
    _next_case: Callable[[], Case]
    _open_model: bool
    _run_headers: dict[str, str]
    _sender: Sender
    _resends: v1_answers.Resends | None = None
    """A per-event scenario's resends waiting for their time (:meth:`_send_v1`)."""

    def __init__(self, environment: Environment) -> None:
        # before FastHttpUser builds its client: verify certificates (its default is not to), send the headers
        settings = transport.user_transport(environment.parsed_options)
        self.insecure, self.ssl_context_factory = settings.insecure, settings.ssl_context_factory
        self.default_headers = self._run_headers = settings.headers
        super().__init__(environment)
        self._sender = Sender(self.host or "", settings.headers, ssl_context_factory=settings.ssl_context_factory,
                              insecure=settings.insecure, connection_timeout=self.connection_timeout,
                              network_timeout=self.network_timeout)

    def on_start(self) -> None:
        openmodel.wait_for_plan()
        # looked up once per user: the task below runs thousands of times a second
        self._traffic = _traffic_of(self, self.scenario)
        self._next_case = self._traffic.cases.__next__
        self._open_model = openmodel.is_open()
        self._resends = v1_answers.Resends() if self.scenario in PER_EVENT else None

    def on_stop(self) -> None:
        self._sender.close()

    @task
    def send(self) -> None:
        if self._resends is not None:
            self._send_v1(self._resends)
            return
        traffic = self._traffic
        due = openmodel.due(self) if self._open_model else None
        case = self._next_case()
        answer, sent = self._request(case)
        if due is not None:
            openmodel.record(case.name, due, sent)
        traffic.ledger.record(answer.status, case.event_span)
        failure = _failure(traffic, case, answer)
        self._report(case, answer, failure)
        if failure is not None:
            _write_failure(traffic, case, failure, self._run_headers)

    def _request(self, case: Case) -> tuple[Answer, float]:
        """Send ``case``; its answer and the moment it was sent.  A run that ends while it waits counts it as
        unanswered (:meth:`_unanswered_at_end`), so it is not lost from the figures."""
        sent = time.perf_counter()
        try:
            return self._sender.send(case.request), sent
        except GreenletExit:
            self._unanswered_at_end(case, sent)
            raise

    def _report(self, case: Case, answer: Answer, failure: Failure | None) -> None:
        """The request in Locust's stats: a failure's stable title (with the status, when there was one) is the
        error's text, which Locust groups errors by."""
        error = None if failure is None else CatchResponseError(
            f"{failure.title} ({answer.status})" if answer.status and answer.error is None else str(failure.title))
        self.environment.events.request.fire(
            request_type=case.request.method, name=case.name, response_time=answer.elapsed_ms,
            response_length=answer.length, exception=error, context={}, response=None, url=case.request.target)

    def _unanswered_at_end(self, case: Case, sent: float) -> None:
        """Account for a request the run's end interrupted.  Its events were sent but not acknowledged (the
        ledger says so).  One that had waited :data:`UNANSWERED_AFTER_S` is also a failure: Locust would drop
        it, and a target that accepts connections and never answers would then look like one that was never
        sent anything; a request merely in flight at the end of a healthy run is not."""
        self._traffic.ledger.record(0, case.event_span)
        waited = time.perf_counter() - sent
        if waited < UNANSWERED_AFTER_S:
            return
        failure = Failure(Title.UNANSWERED_AT_END, "no answer when the run ended")
        self._report(case, Answer(0, None, {}, None, waited * 1000, 0), failure)
        _write_failure(self._traffic, case, failure, self._run_headers)

    def _send_v1(self, resends: v1_answers.Resends) -> None:
        """A due resend, else the next case; its answer read per event (:mod:`harness.load.v1_answers`), the
        outcomes in the ledger, the retries queued.  The ledger records a request once, at its first attempt."""
        traffic, due = self._traffic, openmodel.due(self) if self._open_model else None
        attempt = resends.due(time.monotonic()) or v1_answers.first(self._next_case(), time.monotonic())
        case = attempt.case
        answer, sent = self._request(case)  # a resend cut off at the end: its events stay retrying, never lost
        if due is not None:
            openmodel.record(case.name, due, sent)
        if attempt.number == 1:
            traffic.ledger.record(answer.status, case.event_span, per_event=True)
        outcome = _v1_outcome(traffic.base_url, attempt, answer)
        self._report(case, answer, outcome.failure)
        if outcome.failure is not None:
            _write_failure(traffic, case, outcome.failure, self._run_headers)
        assert isinstance(traffic.ledger, OutcomeLedger)  # a per-event scenario's
        resends.settle(traffic.ledger, attempt, outcome, time.monotonic())


def _unread(answer: Answer, base_url: str, name: str) -> Failure | None:
    """Why ``answer`` has no body to check (no answer, broken off, too large), or None when it has one."""
    if answer.error is not None:
        title, detail = transport.failure(answer.error, base_url)  # refused, reset, TLS, ...
        return Failure(title, f"{name}: answered {answer.status}, then {detail}" if answer.status else detail)
    if answer.body is None:
        return Failure(Title.ANSWER_TOO_LARGE, (f"{name}: answered {answer.status} with a body longer than "
                                                f"{MAX_ANSWER_BYTES:,} bytes (not read further; connection dropped)"))
    return None


def _failure(traffic: _ScenarioTraffic, case: Case, answer: Answer) -> Failure | None:
    """How ``answer`` departs from ``case``'s contract, or None."""
    body = answer.body
    if body is None:
        return _unread(answer, traffic.base_url, case.name)
    status, headers = answer.status, answer.headers
    content_type = headers.get("content-type") or ""
    verdict = (case.expect_status, status, content_type, body)
    if verdict in traffic.passing:  # the same answer to the same expectation passed before
        return None
    location = headers.get("location")
    extra = {"location": location} if 300 <= status < 400 and location is not None else {}
    failure = first_failure(case, Reply(status, body, {"content-type": content_type, **extra}))
    if failure is None and len(body) <= 256:
        traffic.passing.add(verdict)
    return failure


def _v1_outcome(base_url: str, attempt: v1_answers.Attempt, answer: Answer) -> v1_answers.Outcome:
    unread = _unread(answer, base_url, attempt.case.name)
    if unread is not None:
        return v1_answers.unanswered(attempt, unread) if answer.error is not None else v1_answers.Outcome(unread)
    assert answer.body is not None
    headers = {key: value for key in v1_answers.ANSWER_HEADERS if (value := answer.headers.get(key)) is not None}
    return v1_answers.judge(attempt, Reply(answer.status, answer.body, headers))


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
