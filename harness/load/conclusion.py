"""The end of a load run, one way for ``capture-harness load`` and for plain Locust: the results read back from
the report directory, the delivery ledgers reconciled with what the target stored, the summary built and
judged, ``summary.json`` and ``report.html`` written, the summary printed, the exit status 0 or 1.

``capture-harness load`` (:mod:`harness.load.run`) concludes after its Locust subprocess exited.  Plain
``locust -f locustfiles/X.py`` concludes when Locust quits (:class:`PlainRun`, from a ``quit`` listener of
:mod:`harness.load.user`), in the process that owns the run's stats: a standalone Locust or the master,
never a worker, and never a Locust that capture-harness started (:data:`harness.load.locustproc.CALLER_CONCLUDES`
in its environment), whose caller concludes instead.  No Locust import here: the glue passes what it knows.

What plain Locust leaves open is read thus, and the summary's ``locust`` section says so (``notes``):

- **duration**: ``-t`` when the run lasted it; without ``-t`` (the web UI, or a headless run ended by Ctrl-C)
  or when it was stopped sooner, the seconds from the first test's start to quit (``ran_s`` always);
- **web UI**: Locust resets its stats, and the harness its latency histograms, at each test started from the
  UI, so the figures and thresholds cover the last test; the delivery check covers every event this process
  sent since it started (its ledgers span every test);
- **target**: the host Locust sent to; without one the delivery is left unchecked, saying why.  The store is
  read (``/_harness/events`` since the process started, inspection token ``$CAPTURE_HARNESS_INSPECT_TOKEN``),
  never trimmed: nothing is ever deleted from a user's target;
- **replay**: the ``capture-harness load`` command that replays the same traffic and checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from harness.load import cluster, files, latency, ledger, locustproc, report, results, summary, transport
from harness.load.options import LoadOptions, Master, Thresholds

logger = logging.getLogger("capture-harness")

def read_results(report_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's stats and errors; none when Locust ended before writing any (killed, or cancelled early)."""
    try:
        return results.read_results(report_dir)
    except (OSError, ValueError, KeyError):
        return [], []


def summarise(options: LoadOptions, url: str, seed: int, stats: list[dict[str, Any]], failures: list[dict[str, Any]],
              delivery: ledger.Reconciliation, locust_status: int | None) -> dict[str, Any]:
    """The run's summary with its verdict (none judged when Locust never started: ``locust_status`` None); a
    master's also names its workers, and fails when fewer came than expected or one's files never arrived."""
    hdr = latency.read_report(options.report_dir) if locust_status is not None else None
    outcome = summary.build(options, url, seed, stats, failures, delivery, hdr)
    if locust_status is not None:
        outcome.update(summary.judge(options, stats, failures, delivery, hdr, locust_status))
    else:  # cancelled before Locust started: nothing to judge
        outcome.update(checks=[], verdict={"passed": False, "reasons": []}, broken_thresholds=[])
    if options.master is not None:
        outcome["workers"], missing = cluster.workers_report(options.report_dir, options.master)
        outcome["verdict"] = {**outcome["verdict"], "passed": outcome["verdict"]["passed"] and not missing,
                              "reasons": [*outcome["verdict"]["reasons"], *missing]}
    return outcome


def publish(outcome: dict[str, Any], report_dir: Path) -> None:
    """``summary.json`` and ``report.html`` in ``report_dir``, and the summary printed."""
    (report_dir / files.SUMMARY).write_text(json.dumps(outcome, indent=2) + "\n")
    report.write_report(report_dir)
    print(summary.render(outcome), flush=True)
    if "workers" in outcome:
        print(cluster.render(outcome["workers"]), flush=True)


# --- the thresholds, as options of both command lines ------------------------------------------------------


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1 (e.g. 0.01 for 1%)")
    return value


def count_or_fraction(text: str) -> int | float:
    if text.strip().isdigit():
        return int(text)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a count (0, 1, 2, ...) nor a fraction between 0 and 1")
    return value


THRESHOLD_OPTIONS = (
    ("max_p95_ms", "max-p95", float, "MS",
     "fail when the overall p95 latency is above MS (open model: the corrected latency)"),
    ("max_p99_ms", "max-p99", float, "MS",
     "fail when the overall p99 latency is above MS (open model: the corrected latency)"),
    ("max_error_rate", "max-error-rate", fraction, "R",
     "fail when more than this fraction (0 to 1) of requests failed (default 0: fail when any request failed)"),
    ("min_rps", "min-rps", float, "N", "fail below N requests/s"),
    ("max_missed", "max-missed", count_or_fraction, "N|R",
     ("open model: fail when more than N planned sends (an integer), or more than the fraction R (between 0 and 1) "
      "of them, were missed because the load generator fell behind (default 0: fail when any was missed)")),
    ("max_given_up", "max-given-up", count_or_fraction, "N|R",
     ("per-event answers (the v1 scenario): fail when more than N events (an integer), or more than the fraction R "
      "of the events sent, were still answered retry after the last resend, so an SDK would have dropped them "
      "(default 0: fail when any was)")),
)
"""Each :class:`Thresholds` field's option: ``--max-p95`` for ``capture-harness load``, ``--capture-max-p95``
(and ``$CAPTURE_HARNESS_MAX_P95``) for plain Locust; its type, metavar and help; its default is the field's."""


def add_threshold_options(group: Any, prefix: str = "", env_prefix: str | None = None) -> None:
    """The threshold options, named ``--{prefix}max-p95`` ...; with ``env_prefix`` (Locust's configargparse),
    each also read from ``$CAPTURE_HARNESS_MAX_P95`` ...  A bad value is an error naming the option."""
    defaults = Thresholds()
    for field, name, kind, metavar, text in THRESHOLD_OPTIONS:
        env = {"env_var": f"{env_prefix}{name.upper().replace('-', '_')}"} if env_prefix is not None else {}
        group.add_argument(f"--{prefix}{name}", type=kind, default=getattr(defaults, field), metavar=metavar,
                           help=text, **env)


def thresholds(namespace: Any, prefix: str = "") -> Thresholds:
    """The :class:`Thresholds` of parsed options added by :func:`add_threshold_options` with ``prefix``."""
    return Thresholds(**{field: getattr(namespace, f"{prefix}{name}".replace("-", "_"))
                         for field, name, *_ in THRESHOLD_OPTIONS})


# --- plain Locust -------------------------------------------------------------------------------------------


def concludes(worker: bool) -> bool:
    """Whether this Locust process concludes the run: not a worker, and not started by capture-harness."""
    return not worker and not os.environ.get(locustproc.CALLER_CONCLUDES)


@dataclasses.dataclass
class PlainRun:
    """A plain Locust run, from its process's start (:meth:`begin`, at Locust's ``init``) to its conclusion."""

    started_ms: int = 0
    """When the process began, in ms since the epoch: the store is read for events since then."""
    began: float = 0.0
    first_test: float | None = None
    """``time.monotonic()`` when the first test started (None: none did)."""

    def begin(self, options: Any) -> None:
        """One seed for the whole run, shown in the summary (a master chose its own already), and a report
        directory without an earlier run's ledgers, failures, final stats and latency report."""
        if options.capture_seed is None:
            options.capture_seed = int.from_bytes(os.urandom(4), "big")
        report_dir = Path(options.capture_report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        files.remove_stale(report_dir, files.READ_BACK)
        self.started_ms, self.began = int(time.time() * 1000), time.monotonic()

    def test_started(self, **kwargs: Any) -> None:
        if self.first_test is None:
            self.first_test = time.monotonic()

    def conclude(self, environment: Any, locust_status: int) -> None:
        """Conclude the run of Locust's ``environment`` (see the module's docstring) and exit with its verdict:
        0 passed, 1 it did not, or the run could not be concluded (said in the log)."""
        options = environment.parsed_options
        users = [user for user in environment.user_classes if isinstance(getattr(user, "scenario", None), str)]
        host = environment.host or next((user.host for user in users if user.host), None)
        count = options.num_users or getattr(environment.runner, "target_user_count", 0) or 1
        try:
            status = self._conclude(options, host, sorted({user.scenario for user in users}), count, locust_status)
        except Exception:  # no verdict is no pass; Locust would only log it and exit with its own status
            logger.exception("capture-harness: the run could not be concluded (no summary.json): exit status 1")
            status = 1
        impose_exit_status(status, locust_status)

    def _conclude(self, options: Any, host: str | None, scenarios: list[str], users: int, locust_status: int) -> int:
        ran_s = time.monotonic() - (self.first_test if self.first_test is not None else self.began)
        planned = int(options.run_time or 0)
        duration_s = planned if planned and ran_s >= planned - 1 else max(1, round(ran_s))
        load = plain_options(options, host, scenarios, users, duration_s)
        stats, failures = read_results(load.report_dir)
        delivery = results.delivery(load.report_dir, host, load, self.started_ms) if host else ledger.reconcile(
            load.report_dir, None, unchecked="Locust had no host to send to (--host), so no store to read")
        outcome = summarise(load, host or "(no host)", int(options.capture_seed), stats, failures, delivery,
                            locust_status)
        notes = _notes(bool(options.headless), planned, ran_s)
        outcome["locust"] = {"plain": True, "headless": bool(options.headless), "run_time_s": planned or None,
                             "ran_s": round(ran_s, 1), "notes": notes}
        publish(outcome, load.report_dir)
        for note in notes:
            print(f"note: {note}", flush=True)
        return 0 if outcome["verdict"]["passed"] else 1


def _notes(headless: bool, planned: int, ran_s: float) -> list[str]:
    """What the summary of this plain Locust run reads differently from ``capture-harness load``'s."""
    notes = []
    if not headless:
        notes.append("web UI: Locust resets its stats (and the harness its latency histograms) at each test "
                     "started from the UI, so the figures and thresholds cover the last test; the delivery check "
                     "covers every event this process sent")
    if not planned:
        notes.append(f"no -t: duration_s is the {ran_s:.0f} s from the first test's start to quit")
    elif ran_s < planned - 1:
        notes.append(f"stopped after {ran_s:.0f} s of -t {planned}s: duration_s is the time it ran")
    return notes


def plain_options(options: Any, host: str | None, scenarios: list[str], users: int, duration_s: int) -> LoadOptions:
    """The :class:`LoadOptions` a plain Locust run amounts to, from Locust's parsed options (the transport as
    the users have it, :func:`harness.load.transport.user_transport`; a master's workers as it expects them)."""
    settings = transport.user_transport(options)
    bundle = getattr(options, "capture_ca_bundle", None) or os.environ.get(transport.CA_BUNDLE) or None
    master = Master(int(options.expect_workers), str(options.master_bind_host), int(options.master_bind_port),
                    float(options.expect_workers_max_wait or 0)) if getattr(options, "master", False) else None
    return LoadOptions(
        url=host, api_key=options.capture_api_key, scenario="+".join(scenarios) or "none", users=users,
        spawn_rate=float(options.spawn_rate or 1), duration_s=duration_s,
        processes=master.expect_workers if master is not None else 1, report_dir=Path(options.capture_report_dir),
        seed=options.capture_seed, thresholds=thresholds(options, "capture-"),
        corpus_dir=Path(options.capture_corpus_dir), bodies_dir=Path(options.capture_bodies_dir),
        arrival_rate=options.capture_arrival_rate or None, ramp_s=float(options.capture_ramp or 0),
        ca_bundle=Path(bundle) if bundle else None, insecure=settings.insecure,
        headers=tuple(f"{name}: {value}" for name, value in settings.headers.items()),
        inspect_token=os.environ.get("CAPTURE_HARNESS_INSPECT_TOKEN") or None, master=master)


def impose_exit_status(status: int, locust_status: int) -> None:
    """Make this Locust process exit with ``status``.  Locust picks its exit status before ``quit`` (its
    shutdown reads ``environment.process_exit_code`` between ``quitting`` and ``quit``), yet a run can only be
    judged at ``quit``: the final stats and the latency report are written then, once the runner has stopped
    and a master has its workers' last reports.  So the ``sys.exit`` that Locust calls right after ``quit`` (and
    after closing its CSV files, which raising ``SystemExit`` here would leave unflushed) exits with ``status``."""
    if status == locust_status:
        return
    locust_exit = sys.exit

    def verdict_exit(code: object = None) -> NoReturn:
        sys.exit = locust_exit
        locust_exit(status)

    sys.exit = verdict_exit
