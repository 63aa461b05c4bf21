"""``capture-harness``: the command line.  Each subcommand is a thin layer over a library module.

Exit codes, for CI: 0 success; 1 the checked thing failed (a rejected document); 2 usage or input
errors (bad options, a missing file, malformed JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from harness.checks import Variant
from harness.cli import inputs
from harness.contract import PROFILE_NAMES
from harness.generate import seeded
from harness.generate.traffic import BODY_KINDS
from harness.load.scenarios import SCENARIOS
from harness.safety import mask_token
from harness.spec.body import DEFAULT_TOKEN
from harness.spec.rules import RULES, rule
from harness.spec.validation import KINDS, Finding, Report, parse_rejection, validate

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capture-harness",
        description="Contract tests, load tests, schemas and fixture generators for PostHog-style capture "
                    "endpoints.",
        epilog="Start with `capture-harness load` (a 20 s load test against the embedded reference endpoint) "
               "or `capture-harness contract --url URL`. Each command has --help. Exit codes: 0 all well, "
               "1 something checked failed (a rejected payload, a broken threshold, a contract finding), "
               "2 usage or input errors.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    generate = commands.add_parser(
        "generate", help="write seeded, schema-valid (or labelled invalid) request bodies as JSON lines",
        description="Write request bodies as JSON lines, one body per line, in the shapes the official SDKs "
                    "send. The same --seed always gives byte-identical output. With --invalid each line is "
                    '{"rule": NAME, "expect_status": STATUS, "body": ...}, cycling through every rule the '
                    "generator can break.",
    )
    generate.add_argument("--kind", choices=BODY_KINDS, default="mixed",
                          help="payload kind (default: mixed, a realistic blend of all kinds)")
    generate.add_argument("--count", type=_positive_int, default=1000,
                          help="events to generate in all (with --invalid: lines); default 1000")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument("--batch-size", type=_positive_int, default=50,
                          help="events per batch body for --kind batch and mixed server batches (default 50)")
    generate.add_argument("--api-key", default=DEFAULT_TOKEN,
                          help="project token to put in the payloads (default: a placeholder phc_ token)")
    generate.add_argument("--invalid", action="store_true",
                          help="generate bodies that each break one contract rule, labelled with it")
    generate.add_argument("--out", default="-", help="output file (default: stdout)")
    generate.set_defaults(run=_generate)

    check = commands.add_parser(
        "validate", help="check request bodies against capture's contract",
        description="Check JSON or JSONL request bodies as PostHog capture would. For each rejected body it "
                    "prints file:line, the JSON path, the rule, what is wrong and the status capture would "
                    "answer; accepted bodies that ingestion will not act on get warnings. Lines written by "
                    "`generate --invalid` are checked against their label instead: each body must be "
                    "rejected with exactly its rule and status. Exit 0 when nothing is rejected (or every "
                    "labelled body is rejected as labelled), 1 otherwise, 2 for usage and input errors.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="JSON or JSONL file, or - for stdin")
    check.add_argument("--kind", choices=KINDS, help="payload kind (default: detected per document)")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    check.set_defaults(run=_validate)

    server = commands.add_parser(
        "serve", help="run the reference capture endpoint (capture's v0 contract, events stored in SQLite)",
        description="Run the reference capture endpoint: every v0 path (/e, /i/v0/e, /batch, /capture, /track, "
                    "/engage), capture's decoding, rules and answers, accepted events committed to SQLite "
                    "before the 200, an inspection API under /_harness/ and optional fault injection. Prints "
                    "the base URL when ready; Ctrl-C or SIGTERM stops it cleanly.",
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    server.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    server.add_argument("--db", default="capture-harness.sqlite3",
                        help="SQLite file for accepted events (default ./capture-harness.sqlite3; :memory: keeps "
                             "them in memory)")
    server.add_argument("--legacy-success", action="store_true",
                        help='answer {"status": 1} like the old Django capture instead of {"status": "Ok"}')
    faults = server.add_argument_group("fault injection (also settable at run time: POST /_harness/faults)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="added latency per capture request")
    faults.add_argument("--jitter-ms", type=float, default=0.0, help="random +/- variation of the latency")
    faults.add_argument("--error-rate", type=float, default=0.0,
                        help="fraction (0-1) of requests answered with an error status and Retry-After")
    faults.add_argument("--error-status", type=int, action="append", choices=(503, 500, 429),
                        help="status of injected errors (repeat for a mix; default 503)")
    faults.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on injected errors")
    faults.add_argument("--stall-every", type=float, default=0.0, help="stall the server every N seconds...")
    faults.add_argument("--stall-for", type=float, default=0.0, help="...for this many seconds")
    faults.add_argument("--drop-rate", type=float, default=0.0,
                        help="fraction (0-1) of valid requests answered 200 but NOT stored (to test the ledger)")
    faults.add_argument("--seed", type=int, help="seed for the fault decisions (default: random)")
    server.set_defaults(run=_serve)

    load = commands.add_parser(
        "load", help="run a bounded Locust load test, report latency and errors, and check delivery",
        description="Replay seeded, schema-valid traffic with Locust (headless) against --url, or against the "
                    "reference endpoint started for the run. Writes Locust's HTML report, CSV stats, failure "
                    "details and summary.json into --report-dir, prints a summary, checks that every "
                    "acknowledged event was stored (when the target has the /_harness/ inspection API), and "
                    "exits 1 naming any broken threshold.",
    )
    load.add_argument("--url", help="capture endpoint base URL (default: start the reference endpoint)")
    load.add_argument("--api-key", default=DEFAULT_TOKEN, help="project token for the payloads")
    load.add_argument("--scenario", choices=SCENARIOS, default="mixed", help="traffic to send (default mixed)")
    load.add_argument("-u", "--users", type=_positive_int,
                      help="concurrent Locust users (default 20; with --arrival-rate R: max(20, R/20))")
    load.add_argument("-r", "--spawn-rate", type=float,
                      help="users started per second (default 20; with --arrival-rate: all users in one second)")
    load.add_argument("-t", "--duration", type=_duration, default=20, help="run time, e.g. 30s, 5m, 1h (default 20s)")
    load.add_argument("--processes", type=_positive_int, default=1,
                      help="Locust worker processes on this machine (Locust's --processes)")
    load.add_argument("--report-dir", type=Path, default=Path("capture-harness-report"),
                      help="where reports go (default ./capture-harness-report)")
    load.add_argument("--seed", type=int, help="corpus seed, to replay a run exactly (default: random)")
    load.add_argument("--arrival-rate", type=_positive_float, metavar="R",
                      help="open model: R requests/s in total on a plan, latency measured from each request's "
                           "intended send time (default: closed loop, each user sends when answered)")
    load.add_argument("--ramp", type=_non_negative_float, default=0.0, metavar="SECONDS",
                      help="open model: ramp the rate linearly from 0 to R over this many seconds")
    load.add_argument("--max-p95", type=float, metavar="MS",
                      help="fail when the overall p95 latency is above MS (open model: the corrected latency)")
    load.add_argument("--max-p99", type=float, metavar="MS",
                      help="fail when the overall p99 latency is above MS (open model: the corrected latency)")
    load.add_argument("--max-error-rate", type=float, metavar="R", help="fail when more than this fraction failed")
    load.add_argument("--min-rps", type=float, metavar="N", help="fail below N requests/s")
    load.add_argument("--allow-production", action="store_true",
                      help="allow PostHog Cloud hosts (*.posthog.com) as the target")
    load.set_defaults(run=_load)

    contract = commands.add_parser(
        "contract", help="run the contract suite (pytest) against a capture endpoint and print a summary per category",
        description="Run the contract suite, `pytest --pyargs harness.contract`, against --url, or against the "
                    "reference endpoint started for the run. Every check names the rule, the expected and actual "
                    "answer and a curl command that reproduces it; a summary per category (acceptance, rejection, "
                    "edge_cases, properties, responses, limits, delivery) ends the run. Arguments after -- go to "
                    "pytest, e.g. -- -m rejection -x --junitxml=contract.xml. Exit status: 2 for a refused URL "
                    "(nothing is sent), otherwise pytest's: 0 all passed, 1 a check failed, 4 usage errors such as "
                    "an unreachable URL.",
    )
    contract.add_argument("--url", help="capture endpoint base URL (default: start the reference endpoint)")
    contract.add_argument("--api-key", default=DEFAULT_TOKEN,
                          help="project API key for the payloads (default: a placeholder phc_ token); never printed "
                               "in full")
    contract.add_argument("--variant", choices=[v.value for v in Variant], default=Variant.MAIN.value,
                          help="capture revision whose answers count as conformant (default main)")
    contract.add_argument("--profile", choices=PROFILE_NAMES, default=PROFILE_NAMES[0],
                          help="Hypothesis profile for the property tests (default quick)")
    contract.add_argument("--allow-production", action="store_true",
                          help="allow PostHog Cloud hosts (*.posthog.com) as the target")
    contract.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="extra arguments for pytest")
    contract.set_defaults(run=_contract)

    listing = commands.add_parser(
        "rules", help="list the contract rules: name, status capture answers, contract section",
        description="List every rule the validator and the generators know, in capture's processing order.",
    )
    listing.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    listing.set_defaults(run=_rules)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, got {text}")
    return value


# --- generate -----------------------------------------------------------------------------------------


def _generate(args: argparse.Namespace) -> int:
    lines = seeded.invalid_lines(args.count, args.seed, args.api_key) if args.invalid else \
        seeded.valid_lines(args.kind, args.count, args.seed, args.batch_size, args.api_key)
    unit = "lines" if args.invalid else "events"
    started = time.perf_counter()
    try:
        with _output(args.out) as out:
            to_file = args.out != "-"
            with tqdm(total=args.count, unit=unit[:-1], unit_scale=True, file=sys.stderr, leave=False,
                      disable=True if not to_file or args.count < 20_000 else None,  # None: only on a terminal
                      desc="generating") as progress:
                written, events = _write(out, lines, progress, args.invalid)
    except OSError as error:
        print(f"capture-harness generate: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    if args.out != "-":
        seconds = time.perf_counter() - started
        print(f"wrote {written:,} bodies ({events:,} events) to {args.out} in {seconds:.2f}s "
              f"[kind={'invalid' if args.invalid else args.kind} seed={args.seed} "
              f"api_key={mask_token(args.api_key)}]", file=sys.stderr)
    return EXIT_OK


def _write(out: IO[bytes], lines: Iterator[seeded.Line], progress: tqdm, per_line: bool) -> tuple[int, int]:
    """Write lines in chunks (one write call per 256 lines); progress counts lines or events."""
    written = events = units = 0
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line.data)
        written += 1
        events += line.events
        units += 1 if per_line else line.events
        if len(chunk) >= 256:
            out.write(b"\n".join(chunk) + b"\n")
            progress.update(units)
            chunk.clear()
            units = 0
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
        progress.update(units)
    return written, events


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        yield handle


# --- validate -----------------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    totals = {"documents": 0, "accepted": 0, "rejected": 0, "warned": 0, "input_errors": 0,
              "labelled": 0, "mislabelled": 0}
    results: list[dict[str, Any]] = []
    for path in args.paths:
        for item in inputs.read(path):
            if isinstance(item, inputs.InputError):
                totals["input_errors"] += 1
                print(f"error: {item}", file=sys.stderr)
                continue
            label = _label(item)
            if label is not None:
                _check_label(item, label, totals, results, args.format)
                continue
            report = _judge(item, args.kind)
            totals["documents"] += 1
            totals["accepted" if report.accepted else "rejected"] += 1
            totals["warned"] += bool(report.warnings)
            if report.rejections or report.warnings:
                if args.format == "json":
                    results.append(_as_json(item, report))
                else:
                    _print_text(item, report)
    if args.format == "json":
        json.dump({**totals, "results": results}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        parts = []
        if totals["documents"] or not totals["labelled"]:
            parts.append(f"{totals['documents']:,} documents: {totals['accepted']:,} accepted, "
                         f"{totals['rejected']:,} rejected, {totals['warned']:,} with warnings")
        if totals["labelled"]:
            parts.append(f"{totals['labelled']:,} labelled invalid documents: "
                         f"{totals['labelled'] - totals['mislabelled']:,} rejected as labelled, "
                         f"{totals['mislabelled']:,} not")
        if totals["input_errors"]:
            parts.append(f"{totals['input_errors']:,} input errors")
        print("; ".join(parts))
    if totals["input_errors"]:
        return EXIT_USAGE
    return EXIT_FAILED if totals["rejected"] or totals["mislabelled"] else EXIT_OK


def _label(document: inputs.Document) -> dict[str, Any] | None:
    """A ``generate --invalid`` line: ``{"rule", "expect_status", "body"}``; its body is what is judged."""
    value = document.value
    if isinstance(value, dict) and value.keys() == {"rule", "expect_status", "body"}:
        return value
    return None


def _check_label(document: inputs.Document, label: dict[str, Any], totals: dict[str, int],
                 results: list[dict[str, Any]], output: str) -> None:
    """A labelled body must be rejected with exactly its rule and status; anything else is reported.
    The body is judged as data, so what its JSON text could not carry (a lone surrogate) still counts."""
    report = validate(label["body"])
    totals["labelled"] += 1
    if report.rules == {label["rule"]} and report.status == label["expect_status"]:
        return
    totals["mislabelled"] += 1
    judged = ", ".join(sorted(report.rules)) or "accepted"
    if output == "json":
        results.append({"file": document.source, "line": document.line, "labelled": label["rule"],
                        "expect_status": label["expect_status"], "judged": sorted(report.rules),
                        "status": report.status})
    else:
        print(f"{document.source}:{document.line}: labelled [{label['rule']}] ({label['expect_status']}) "
              f"but judged [{judged}] ({report.status})")


def _judge(document: inputs.Document, kind: str | None) -> Report:
    if document.strict_error is not None:
        broken = parse_rejection(document.strict_error)
        finding = Finding(broken.name, "$", f"{broken.summary} ({document.strict_error})")
        return Report(kind=kind or "capture", rejections=(finding,), status=broken.status)
    return validate(document.value, kind, encoded=document.raw)


def _print_text(document: inputs.Document, report: Report) -> None:
    where = f"{document.source}:{document.line}"
    for finding in report.rejections:
        status = rule(finding.rule).status
        verdict = f"rejected ({status})" if status else "not conformant"
        print(f"{where}: {verdict} {finding.path} [{finding.rule}] {finding.message}")
    for finding in report.warnings:
        print(f"{where}: warning (accepted, ineffective) {finding.path} [{finding.rule}] {finding.message}")


def _as_json(document: inputs.Document, report: Report) -> dict[str, Any]:
    def finding(f: Finding) -> dict[str, Any]:
        return {"rule": f.rule, "path": f.path, "message": f.message, "status": rule(f.rule).status,
                "section": rule(f.rule).section}
    return {"file": document.source, "line": document.line, "kind": report.kind,
            "status": report.status if report.rejections else 200,
            "rejections": [finding(f) for f in report.rejections],
            "warnings": [finding(f) for f in report.warnings]}


def _serve(args: argparse.Namespace) -> int:
    from harness.server import (  # uvicorn only when serving
        CaptureApp,
        Faults,
        Store,
        runner,
    )

    try:
        faults = Faults(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, error_rate=args.error_rate,
                        error_statuses=tuple(args.error_status or (503,)), retry_after_s=args.retry_after,
                        stall_every_s=args.stall_every, stall_for_s=args.stall_for, drop_rate=args.drop_rate)
    except ValueError as error:
        print(f"capture-harness serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"capture-harness serve: warning: binding {args.host} exposes the endpoint beyond this machine",
              file=sys.stderr)
    try:
        store = Store(args.db)
    except (OSError, sqlite3.Error) as error:
        print(f"capture-harness serve: cannot open the store {args.db}: {error}", file=sys.stderr)
        return EXIT_USAGE
    app = CaptureApp(store, faults, legacy_success=args.legacy_success, seed=args.seed)
    if faults.active:
        print(f"fault injection: {faults.to_json()}", file=sys.stderr)
    try:
        runner.serve(app, args.host, args.port, cleanup=store.close)
    except OSError as error:
        print(f"capture-harness serve: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
              file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


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


def _load(args: argparse.Namespace) -> int:
    from harness.load import arrivals
    from harness.load import run as load_run

    if args.ramp and not args.arrival_rate:
        print("capture-harness load: --ramp needs --arrival-rate (it ramps the open model's rate)", file=sys.stderr)
        return EXIT_USAGE
    users = args.users or (arrivals.default_users(args.arrival_rate) if args.arrival_rate else 20)
    spawn_rate = args.spawn_rate or (float(users) if args.arrival_rate else 20.0)
    options = load_run.LoadOptions(
        url=args.url, api_key=args.api_key, scenario=args.scenario, users=users, spawn_rate=spawn_rate,
        duration_s=args.duration, processes=args.processes, report_dir=args.report_dir, seed=args.seed,
        thresholds=load_run.Thresholds(args.max_p95, args.max_p99, args.max_error_rate, args.min_rps),
        allow_production=args.allow_production, arrival_rate=args.arrival_rate, ramp_s=args.ramp,
    )
    try:
        return load_run.run(options)
    except load_run.UsageError as error:
        print(f"capture-harness load: {error}", file=sys.stderr)
        return EXIT_USAGE


def _contract(args: argparse.Namespace) -> int:
    import pytest  # only the contract command needs pytest

    from harness.safety import TargetError, check_url

    if args.url is not None:
        try:
            check_url(args.url, allow_production=args.allow_production)
        except TargetError as error:  # refused before anything is sent
            print(f"capture-harness contract: {error}", file=sys.stderr)
            return EXIT_USAGE
    argv = ["--pyargs", "harness.contract", "-p", "no:cacheprovider", f"--capture-api-key={args.api_key}",
            f"--capture-variant={args.variant}", f"--capture-profile={args.profile}",
            # this process imported Hypothesis (the generators) before pytest could rewrite its plugin's asserts
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if args.url is not None:
        argv.append(f"--capture-url={args.url}")
    if args.allow_production:
        argv.append("--capture-allow-production")
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):  # the pytest11 entry point is not loaded then
        argv += ["-p", "harness.contract.plugin"]
    return int(pytest.main([*argv, *args.pytest_args]))


def _rules(args: argparse.Namespace) -> int:
    ordered = sorted(RULES, key=lambda r: (r.stage is None, r.stage or 0))
    if args.format == "json":
        json.dump([{"name": r.name, "verdict": r.verdict.value, "stage": r.stage.name.lower() if r.stage else None,
                    "status": r.status, "section": r.section, "summary": r.summary} for r in ordered],
                  sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for r in ordered:
        answer = str(r.status) if r.status else ("200 (warning)" if r.stage is None else "-")
        print(f"{r.name:<40} {answer:<14} {r.section:<22} {r.summary}")
    return EXIT_OK

