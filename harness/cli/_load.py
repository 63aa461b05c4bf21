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
    positive_float,
    positive_int,
)
from harness.load import arrivals
from harness.load import run as load_run
from harness.load.progress import DEFAULT_INTERVAL_S
from harness.load.scenarios import SCENARIOS
from harness.server.process import new_token

DESCRIPTION = (
    "Replay seeded, schema-valid traffic with Locust (headless) against --url, or against the reference "
    "endpoint started for the run. Writes report.html (verdict, plots, errors with their curl, delivery, "
    "replay command), Locust's own locust-report.html, CSV stats, failure details and summary.json "
    "into --report-dir, prints a summary, checks that every acknowledged event was stored (when the target "
    "has the /_harness/ inspection API), and exits 1 naming every check that failed. By default a run fails when any request failed, when no request "
    "got an answer, when an acknowledged event was lost or, in the open model, when any planned send was missed; "
    "--max-error-rate and --max-missed set those tolerances. https:// certificates are verified (--ca-bundle, "
    "--insecure); -H adds a header to every request. Arguments after -- go to Locust unchanged, e.g. -- "
    "--csv-full-history --loglevel DEBUG."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    add_transport_options(parser)
    parser.add_argument("--scenario", choices=SCENARIOS, default="mixed", help="traffic to send (default mixed)")
    parser.add_argument("-u", "--users", type=positive_int,
                        help="concurrent Locust users (default 20; with --arrival-rate R: max(20, R/20))")
    parser.add_argument("-r", "--spawn-rate", type=float,
                        help="users started per second (default 20; with --arrival-rate: all users in one second)")
    parser.add_argument("-t", "--duration", type=_duration, default=20,
                        help="run time, e.g. 30s, 5m, 1h (default 20s)")
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
    parser.add_argument("locust_args", nargs="*", metavar="-- LOCUST_ARGS",
                        help="extra arguments for Locust, passed on unchanged")


def run(args: argparse.Namespace) -> int:
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
        duration_s=args.duration, processes=args.processes, report_dir=args.report_dir, seed=args.seed,
        thresholds=load_run.Thresholds(args.max_p95, args.max_p99, args.max_error_rate, args.min_rps,
                                       args.max_missed),
        allow_production=args.allow_production, arrival_rate=args.arrival_rate, ramp_s=args.ramp,
        ca_bundle=args.ca_bundle, insecure=args.insecure, headers=tuple(args.header or ()),
        locust_args=tuple(args.locust_args), progress_s=args.progress_interval,
        inspect_token=args.inspect_token or (None if args.url else new_token()),
    )
    try:
        return load_run.run(options)
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
    group.add_argument("--max-p95", type=float, metavar="MS",
                       help="fail when the overall p95 latency is above MS (open model: the corrected latency)")
    group.add_argument("--max-p99", type=float, metavar="MS",
                       help="fail when the overall p99 latency is above MS (open model: the corrected latency)")
    group.add_argument("--max-error-rate", type=_fraction, default=0.0, metavar="R",
                       help="fail when more than this fraction (0 to 1) of requests failed (default 0: fail when "
                            "any request failed)")
    group.add_argument("--min-rps", type=float, metavar="N", help="fail below N requests/s")
    group.add_argument("--max-missed", type=_missed, default=0, metavar="N|R",
                       help="open model: fail when more than N planned sends (an integer), or more than the fraction "
                            "R (between 0 and 1) of them, were missed because the load generator fell behind "
                            "(default 0: fail when any was missed)")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1 (e.g. 0.01 for 1%)")
    return value


def _missed(text: str) -> int | float:
    if text.strip().isdigit():
        return int(text)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a count (0, 1, 2, ...) nor a fraction between 0 and 1 "
                                         "of the planned sends")
    return value


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
