"""``capture-harness load``: options to :class:`harness.load.run.LoadOptions`, then :func:`harness.load.run.run`."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from harness import tls
from harness.cli._options import (
    EXIT_USAGE,
    add_target_options,
    add_transport_options,
    non_negative_float,
    port_number,
    positive_float,
    positive_int,
)
from harness.load import arrivals, cluster, conclusion
from harness.load import run as load_run
from harness.load.options import LOCUST_MASTER_PORT, Master, WorkerOptions
from harness.load.progress import DEFAULT_INTERVAL_S
from harness.load.scenarios import SCENARIOS
from harness.server.process import new_token

DESCRIPTION = (
    "Replay seeded, schema-valid traffic with Locust (headless) against --url, or against the reference "
    "endpoint started for the run. Writes report.html (verdict, plots, errors with their curl, delivery, "
    "replay command), Locust's own locust-report.html, CSV stats, failure details and summary.json "
    "into --report-dir, prints a summary, checks that every acknowledged event was stored (when the target "
    "has the /_harness/ inspection API), and exits 1 naming every check that failed. By default a run fails when any request failed, when no request "
    "got an answer, when an acknowledged event was lost, in the open model when any planned send was missed, and "
    "with v1's per-event answers when an event was given up after its last resend; --max-error-rate, --max-missed "
    "and --max-given-up set those tolerances. https:// certificates are verified (--ca-bundle, "
    "--insecure); -H adds a header to every request. Arguments after -- go to Locust unchanged, e.g. -- "
    "--csv-full-history --loglevel DEBUG. To spread the load over machines, run `load --master --expect-workers N` "
    "on one (it runs the endpoint check, thresholds and summary) and `load --worker --master-host HOST` on each "
    "other: workers need no shared folder, their ledgers and failure details travel to the master."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    add_transport_options(parser)
    parser.add_argument("--scenario", choices=SCENARIOS, default="mixed", help="traffic to send (default mixed)")
    parser.add_argument("-u", "--users", type=positive_int,
                        help="concurrent Locust users (default 20; with --arrival-rate R: max(20, R/20))")
    parser.add_argument("-r", "--spawn-rate", type=float,
                        help="users started per second (default 20; with --arrival-rate: all users in one second)")
    parser.add_argument("-t", "--duration", type=_duration,
                        help="run time, e.g. 30s, 5m, 1h (default 20s; with --worker: the most this worker runs, "
                             "default 24h, the master normally ends it sooner)")
    parser.add_argument("--processes", type=positive_int, default=1,
                        help="Locust worker processes on this machine (Locust's --processes)")
    parser.add_argument("--report-dir", type=Path, default=Path("capture-harness-report"),
                        help="where reports go (default ./capture-harness-report)")
    parser.add_argument("--seed", type=int,
                        help="seed of the traffic corpus, the requests the users replay: a run with the same seed "
                             "regenerates and replays it exactly (default: random, shown in the summary)")
    parser.add_argument("--progress-interval", type=non_negative_float, default=DEFAULT_INTERVAL_S, metavar="SECONDS",
                        help="a status line on stderr every SECONDS while preparing, running and reconciling "
                             "(elapsed / planned, req/s, errors, p95; default 5, 0: none). SIGINT (Ctrl-C) or "
                             "SIGTERM cancels the run: Locust and the reference endpoint are stopped, the summary of "
                             "what ran is written (cancelled: true) and the exit status is 130 or 143")
    _add_open_model(parser)
    _add_thresholds(parser)
    _add_machines(parser)
    parser.add_argument("locust_args", nargs="*", metavar="-- LOCUST_ARGS",
                        help="extra arguments for Locust, passed on unchanged")


def run(args: argparse.Namespace) -> int:
    refused = _machines_refusal(args)
    if refused:
        print(f"capture-harness load: {refused}", file=sys.stderr)
        return EXIT_USAGE
    if args.worker:
        return _run_worker(args)
    if args.ramp and not args.arrival_rate:
        print("capture-harness load: --ramp needs --arrival-rate (it ramps the open model's rate)", file=sys.stderr)
        return EXIT_USAGE
    try:
        tls.ssl_context(args.ca_bundle, args.insecure)  # a bundle that cannot be read: before anything starts
    except tls.BundleError as error:
        print(f"capture-harness load: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.insecure:
        print(f"capture-harness load: {tls.INSECURE_WARNING}", file=sys.stderr)
    users = args.users or (arrivals.default_users(args.arrival_rate) if args.arrival_rate else 20)
    spawn_rate = args.spawn_rate or (float(users) if args.arrival_rate else 20.0)
    options = load_run.LoadOptions(
        url=args.url, api_key=args.api_key, scenario=args.scenario, users=users, spawn_rate=spawn_rate,
        duration_s=args.duration or 20, processes=args.expect_workers if args.master else args.processes, report_dir=args.report_dir, seed=args.seed,
        thresholds=conclusion.thresholds(args),
        allow_production=args.allow_production, arrival_rate=args.arrival_rate, ramp_s=args.ramp,
        ca_bundle=args.ca_bundle, insecure=args.insecure, headers=tuple(args.header or ()),
        locust_args=tuple(args.locust_args), progress_s=args.progress_interval,
        inspect_token=args.inspect_token or (None if args.url else new_token()),
        master=Master(args.expect_workers, args.master_bind_host, args.master_bind_port, args.expect_workers_max_wait)
        if args.master else None,
        serve_host=args.serve_host or "127.0.0.1",
    )
    try:
        return load_run.run(options)
    except load_run.UsageError as error:
        print(f"capture-harness load: {error}", file=sys.stderr)
        return EXIT_USAGE


def _add_machines(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("several load machines (Locust's distributed mode, Locust's option names)")
    group.add_argument("--master", action="store_true",
                       help="run Locust's master here, with no users of its own, for --expect-workers workers started "
                            "elsewhere with --worker; this machine runs the endpoint (or reads --url's store), the "
                            "thresholds, the delivery check and the summary, covering every worker")
    group.add_argument("--expect-workers", type=positive_int, metavar="N", help="--master: workers to wait for")
    group.add_argument("--expect-workers-max-wait", type=positive_float, default=60.0, metavar="SECONDS",
                       help="--master: give up (exit 1, naming how many came) when the workers are not all connected "
                            "within SECONDS (default 60)")
    group.add_argument("--master-bind-host", default="*", metavar="HOST",
                       help="--master: the address workers connect to (default *: every interface)")
    group.add_argument("--master-bind-port", type=port_number, default=LOCUST_MASTER_PORT, metavar="PORT",
                       help=f"--master: the port workers connect to (default {LOCUST_MASTER_PORT}; open it to them)")
    group.add_argument("--serve-host", metavar="ADDRESS",
                       help="--master without --url: the address of this machine the reference endpoint listens on "
                            "and the workers send to, e.g. 10.0.0.5 (default 127.0.0.1: workers on this machine only)")
    group.add_argument("--worker", action="store_true",
                       help="run Locust workers here (--processes of them) for the master at --master-host, which "
                            "sends the seed, API key, target, users and duration; exits when the master ends the run, "
                            "after shipping its ledgers and failure details to it")
    group.add_argument("--master-host", metavar="HOST", help="--worker: the machine running load --master")
    group.add_argument("--master-port", type=port_number, default=LOCUST_MASTER_PORT, metavar="PORT",
                       help=f"--worker: the master's --master-bind-port (default {LOCUST_MASTER_PORT})")
    group.add_argument("--connect-timeout", type=positive_float, default=60.0, metavar="SECONDS",
                       help="--worker: give up (exit 1) when the master cannot be reached within SECONDS (default 60)")


_MASTER_SETS = (("url", "--url"), ("seed", "--seed"), ("users", "-u"), ("spawn_rate", "-r"),
                ("arrival_rate", "--arrival-rate"), ("ramp", "--ramp"),
                *((name.replace("-", "_"), f"--{name}") for _, name, *_ in conclusion.THRESHOLD_OPTIONS),
                ("serve_host", "--serve-host"), ("header", "-H"), ("insecure", "--insecure"))
"""Options a worker takes from its master (``dest``, flag): given to a worker, they are refused."""


def _machines_refusal(args: argparse.Namespace) -> str | None:
    """Why the combination of --master / --worker options cannot run (None: it can)."""
    if args.master and args.worker:
        return "--master and --worker exclude each other: a machine is the master or one of its workers"
    if args.worker:
        if not args.master_host:
            return "--worker needs --master-host HOST: the machine running capture-harness load --master"
        given = [flag for dest, flag in _MASTER_SETS if getattr(args, dest)]
        if given:
            return (f"--worker takes {', '.join(given)} from its master: give {'them' if len(given) > 1 else 'it'} "
                    "to the master's command (capture-harness load --master ...) instead")
        return None
    if args.master_host:
        return "--master-host is for --worker (the master to connect to); a master binds --master-bind-host"
    if args.master and not args.expect_workers:
        return "--master needs --expect-workers N: how many workers (capture-harness load --worker) will connect"
    if args.master and args.processes > 1:
        return ("--master runs no users here, so --processes does not apply: give --processes to each worker "
                "(capture-harness load --worker --processes N)")
    if args.expect_workers and not args.master:
        return "--expect-workers is for --master (or use --processes N for workers on this machine)"
    if args.serve_host and (args.url or not args.master):
        return "--serve-host is for --master without --url: where the reference endpoint listens for the workers"
    if args.serve_host in ("0.0.0.0", "::", "*"):
        return (f"--serve-host {args.serve_host}: give an address of this machine the workers can reach (e.g. "
                "10.0.0.5): the workers are sent to it")
    return None


def _run_worker(args: argparse.Namespace) -> int:
    options = WorkerOptions(
        master_host=args.master_host, master_port=args.master_port, scenario=args.scenario,
        report_dir=args.report_dir, processes=args.processes,
        max_duration_s=args.duration or load_run.MAX_DURATION_S, connect_s=args.connect_timeout,
        ca_bundle=args.ca_bundle, locust_args=tuple(args.locust_args))
    try:
        return cluster.run_worker(options)
    except load_run.UsageError as error:
        print(f"capture-harness load: {error}", file=sys.stderr)
        return EXIT_USAGE


def _add_open_model(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("open model")
    group.add_argument("--arrival-rate", type=positive_float, metavar="R",
                       help="open model: R requests/s in total on a plan, latency measured from each request's "
                            "intended send time (default: closed loop, each user sends when answered)")
    group.add_argument("--ramp", type=non_negative_float, default=0.0, metavar="SECONDS",
                       help="open model: ramp the rate linearly from 0 to R over this many seconds")


def _add_thresholds(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("thresholds (a broken one makes the run exit 1, naming it)")
    conclusion.add_threshold_options(group)  # plain Locust has the same, as --capture-max-p95 ...


def _duration(text: str) -> int:
    """Locust-style durations: ``90``, ``30s``, ``5m``, ``1h30m``."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?", text.strip())
    if not text.strip() or parts is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 30s, 5m or 1h30m")
    hours, minutes, seconds = (int(group or 0) for group in parts.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total < 1:
        raise argparse.ArgumentTypeError("the duration must be at least 1 s")
    return total
