"""``capture-harness serve``: the reference endpoint (:mod:`harness.server`) in the foreground until stopped."""

from __future__ import annotations

import argparse
import errno
import sqlite3
import sys

from harness.cli._options import EXIT_OK, EXIT_USAGE, port_number

DESCRIPTION = (
    "Run the reference capture endpoint: every v0 path (/e, /i/v0/e, /batch, /capture, /track, /engage), "
    "capture's decoding, rules and answers, accepted events committed to SQLite before the 200, an inspection "
    "API under /_harness/ and optional fault injection. Prints the base URL when ready; Ctrl-C or SIGTERM "
    "stops it cleanly."
)

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=port_number, default=8000,
                        help="port, 0-65535 (default 8000; 0 picks a free one)")
    parser.add_argument("--db", default="capture-harness.sqlite3",
                        help="SQLite file for accepted events (default ./capture-harness.sqlite3; :memory: keeps "
                             "them in memory)")
    parser.add_argument("--legacy-success", action="store_true",
                        help='answer {"status": 1} like the old Django capture instead of {"status": "Ok"}')
    faults = parser.add_argument_group("fault injection (also settable at run time: POST /_harness/faults)")
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
    faults.add_argument("--seed", type=int,
                        help="seed of the fault-injection randomness: which requests get an error or are dropped, "
                             "the status of a mix, the jitter (default: random). Stalls follow the clock")


def run(args: argparse.Namespace) -> int:
    from harness.server import CaptureApp, Faults, Store, runner  # uvicorn only when serving, not for --help

    try:
        faults = Faults(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, error_rate=args.error_rate,
                        error_statuses=tuple(args.error_status or (503,)), retry_after_s=args.retry_after,
                        stall_every_s=args.stall_every, stall_for_s=args.stall_for, drop_rate=args.drop_rate)
    except ValueError as error:
        print(f"capture-harness serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.host not in _LOCAL_HOSTS:
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
        hint = "; pick another --port, or --port 0 for a free one" if error.errno == errno.EADDRINUSE else ""
        print(f"capture-harness serve: cannot listen on {args.host}:{args.port}: {error.strerror or error}{hint}",
              file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
