"""Locust glue: the base user the locustfiles subclass.  The only harness module that imports locust
(which monkey-patches the standard library with gevent when imported).

Each request is taken ready-made from the seeded corpus (:mod:`harness.load.corpus`), sent with
``FastHttpUser``, named in Locust's stats by scenario step (``batch posthog-node``, ``browser gzip-js``,
...), checked with the contract suite's checks (:mod:`harness.checks`), and recorded in this process's
delivery ledger (:mod:`harness.load.ledger`).  A failure's stable title goes to Locust (which groups errors by
exact text); its detail and a curl command go to ``failures-<pid>.jsonl`` in the report directory, with
the API key masked.  A body too long or not printable for the curl command goes to a file under
``--capture-bodies-dir`` (``.capture-harness/failed-bodies/``), not into the report directory: bodies hold
the API key in full, and the report directory is meant to be shared.

When the run ends, the process that owns the run's stats (the master, or the only process) writes them to
``locust-final.json`` in the report directory (:data:`FINAL_STATS`): Locust's ``--csv`` files are
snapshots taken every second, so they miss the run's last moments.

Options (``locust ... --capture-seed 7``): ``--capture-seed``, ``--capture-api-key``,
``--capture-report-dir``, ``--capture-corpus-dir``, ``--capture-bodies-dir``; the open model's ``--capture-arrival-rate`` and
``--capture-ramp`` (:mod:`harness.load.openmodel`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.checks import Case, Failure, Reply, curl, first_failure
from harness.load import corpus, openmodel
from harness.load.ledger import LedgerWriter
from harness.safety import mask_token
from harness.spec.body import DEFAULT_TOKEN


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("capture-harness")
    group.add_argument("--capture-seed", type=int, default=None, env_var="CAPTURE_HARNESS_SEED",
                       help="corpus seed (default: random, so runs never resend old uuids)")
    group.add_argument("--capture-api-key", default=DEFAULT_TOKEN, env_var="CAPTURE_HARNESS_API_KEY",
                       help="project token put in the payloads")
    group.add_argument("--capture-report-dir", default="capture-harness-report", env_var="CAPTURE_HARNESS_REPORT_DIR",
                       help="where ledger and failure files go")
    group.add_argument("--capture-corpus-dir", default=str(corpus.DEFAULT_CACHE_DIR),
                       env_var="CAPTURE_HARNESS_CORPUS_DIR", help="where generated corpus chunks are cached")
    group.add_argument("--capture-bodies-dir", default=str(corpus.FAILED_BODIES_DIR),
                       env_var="CAPTURE_HARNESS_BODIES_DIR", help="where bodies of failed requests are written")


FINAL_STATS = "locust-final.json"
"""The run's final stats, per request name and aggregated, and its errors (read by ``capture-harness load``)."""

PERCENTILES = (0.5, 0.95, 0.99)

_environment: list[Environment] = []


@events.init.add_listener
def _remember(environment: Environment, **kwargs: Any) -> None:
    _environment[:] = [environment]


@events.quit.add_listener
def _write_final_stats(**kwargs: Any) -> None:
    """Fired after the runner has stopped (and, on a master, after the workers' last reports)."""
    if not _environment:
        return
    environment = _environment[0]
    runner = environment.runner
    if runner is None or isinstance(runner, WorkerRunner) or environment.parsed_options is None:
        return
    stats = runner.stats
    entries = sorted(stats.entries.values(), key=lambda entry: (entry.name, entry.method or ""))
    final = {
        "entries": [_entry(entry, entry.name) for entry in entries if entry.num_requests or entry.num_failures],
        "aggregated": _entry(stats.total, "Aggregated"),
        "errors": [error.to_dict() for error in stats.errors.values()],
    }
    report_dir = Path(environment.parsed_options.capture_report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / FINAL_STATS).write_bytes(orjson.dumps(final, option=orjson.OPT_INDENT_2))


def _entry(entry: Any, name: str) -> dict[str, Any]:
    answered = entry.num_requests - entry.num_none_requests
    return {
        "name": name, "method": entry.method, "requests": entry.num_requests, "failures": entry.num_failures,
        "rps": entry.total_rps,
        **{f"p{round(p * 100)}": (float(entry.get_response_time_percentile(p)) if answered else None)
           for p in PERCENTILES},
        "max": float(entry.max_response_time) if answered else None,
    }


@dataclass
class _ProcessState:
    requests: Iterator[corpus.ReadyRequest]
    ledger: LedgerWriter
    failures: Any
    api_key: str
    base_url: str
    bodies_dir: Path
    passing: set[tuple[int, int, str, bytes]] = field(default_factory=set)
    """(expected status, status, content type, body) of small answers that passed every check: the
    checks depend on nothing else, so a repeated answer is recognised instead of checked again."""


_states: dict[str, _ProcessState] = {}


def _state(user: FastHttpUser, scenario: str) -> _ProcessState:
    """This process's stream of ``scenario`` requests, ledger and failure file, made on first use."""
    state = _states.get(scenario)
    if state is None:
        options = user.environment.parsed_options
        runner = user.environment.runner
        stream = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        seed = options.capture_seed if options.capture_seed is not None else int.from_bytes(os.urandom(4), "big")
        report_dir = Path(options.capture_report_dir)
        state = _ProcessState(
            requests=corpus.stream_requests(scenario, seed, stream, options.capture_api_key,
                                            Path(options.capture_corpus_dir), on_generate=_generating),
            ledger=LedgerWriter(report_dir),
            failures=(report_dir / f"failures-{os.getpid()}.jsonl").open("ab"),
            api_key=options.capture_api_key, base_url=user.host or "",
            bodies_dir=Path(options.capture_bodies_dir).resolve(),
        )
        _states[scenario] = state
    return state


def _generating(chunk: int) -> None:
    logging.warning("capture-harness: corpus chunk %d was not pre-generated; generating it now, which stalls this "
                    "process's users for ~0.1 s (the load generator, not the endpoint, is the bottleneck here)", chunk)


@events.quitting.add_listener
def _close(environment: Any, **kwargs: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        return
    for state in _states.values():
        state.ledger.close()
        state.failures.close()


class CaptureUser(FastHttpUser):
    """Sends the ``scenario``'s corpus as fast as the endpoint answers (no think time), or, with
    ``--capture-arrival-rate``, on the open model's plan (:mod:`harness.load.openmodel`)."""

    abstract = True
    scenario = "mixed"
    wait_time = openmodel.wait_time

    def on_start(self) -> None:
        openmodel.on_start(self)
        # looked up once per user: the task below runs thousands of times a second
        self._capture = _state(self, self.scenario)
        self._next_request = self._capture.requests.__next__
        self._open_model = openmodel.is_open()

    @task
    def send(self) -> None:
        state = self._capture
        due = openmodel.due(self) if self._open_model else None
        ready = self._next_request()
        sent = time.perf_counter()
        request = ready.request
        with self.client.request(request.method, request.target, name=ready.name, data=request.body,
                                 headers=request.headers, catch_response=True) as response:
            if due is not None:
                openmodel.record(ready.name, due, sent)
            status = response.status_code or 0
            state.ledger.record(status, ready.uuids)
            if status == 0:
                response.failure("connection failed")
                _write_failure(state, ready, Failure("connection failed", str(response.error)))
                return
            body = response.content or b""
            content_type = response.headers.get("content-type", "")
            verdict = (ready.expect_status, status, content_type, body)
            if verdict in state.passing:  # the same answer to the same expectation passed before
                response.success()
                return
            reply = Reply(status, body, {"content-type": content_type})
            failure = first_failure(Case(ready.name, request, ready.expect_status, uuids=ready.uuids), reply)
            if failure is None:
                response.success()
                if len(body) <= 256:
                    state.passing.add(verdict)
            else:
                response.failure(f"{failure.title} ({status})")  # Locust groups errors by status and title
                _write_failure(state, ready, failure)


def _write_failure(state: _ProcessState, ready: corpus.ReadyRequest, failure: Failure) -> None:
    command = curl(ready.request, state.base_url, state.bodies_dir)
    record = {"time": time.time(), "name": ready.name, "title": failure.title, "detail": failure.detail,
              "curl": command}
    masked = orjson.dumps(record).replace(state.api_key.encode(), mask_token(state.api_key).encode())
    state.failures.write(masked + b"\n")
    state.failures.flush()
