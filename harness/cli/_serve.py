"""``capture-harness serve``: the reference endpoint (:mod:`harness.server`) in the foreground until stopped."""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import sqlite3
import ssl
import sys
from typing import TYPE_CHECKING

from harness.cli._options import EXIT_OK, EXIT_USAGE, non_negative_float, port_number, positive_float, positive_int

DESCRIPTION = (
    "Run the reference capture endpoint: every v0 path (/e, /i/v0/e, /batch, /capture, /track, /engage) and "
    "capture v1's POST /i/v1/analytics/events (per-event results; older revisions with --v1-variant), "
    "capture's decoding, rules and answers, accepted events committed to SQLite before the 200, an inspection "
    "API under /_harness/, what posthog-js asks for besides capture (remote config, /flags, /decide, no-op "
    "/static/ scripts; CORS and preflights on every route) and optional fault injection. Prints the base URL when ready; Ctrl-C or SIGTERM "
    "stops it cleanly."
)

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "CAPTURE_HARNESS_INSPECT_TOKEN"
MIB = 1024 * 1024

if TYPE_CHECKING:
    from harness.server.remote_config import SdkConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=port_number, default=8000,
                        help="port, 0-65535 (default 8000; 0 picks a free one)")
    parser.add_argument("--db", default="capture-harness.sqlite3",
                        help="SQLite file for accepted events (default ./capture-harness.sqlite3; :memory: keeps "
                             "them in memory)")
    parser.add_argument("--legacy-success", action="store_true",
                        help='answer {"status": 1} like the old Django capture instead of {"status": "Ok"}')
    parser.add_argument("--ssl-certfile", metavar="FILE", help="serve https:// with this PEM certificate (chain)")
    parser.add_argument("--ssl-keyfile", metavar="FILE", help="the private key of --ssl-certfile")
    _add_limits(parser)
    _add_inspection(parser)
    _add_sdk(parser)
    _add_v1(parser)
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
    faults.add_argument("--event-retry-rate", type=float, default=0.0,
                        help="v1: fraction (0-1) of the events v1 would store answered retry/not_persisted inside "
                             "the 200 (with Retry-After: 1) and not stored, to drive partial retries")
    faults.add_argument("--distinct-id-limit", type=int, default=0, metavar="N",
                        help="v1: past N events per second for one token:distinct_id, answer warning/"
                             "person_processing_disabled and store them with person processing off (capture's "
                             "per-distinct-id limiter; default 0, off)")
    faults.add_argument("--seed", type=int,
                        help="seed of the fault-injection randomness: which requests get an error or are dropped, "
                             "the status of a mix, the jitter (default: random). Stalls follow the clock")


def _add_v1(parser: argparse.ArgumentParser) -> None:
    from harness.server.v1_capture import VARIANTS  # only when serve's own parser is built

    v1 = parser.add_argument_group("capture v1 (/i/v1/analytics/events)")
    v1.add_argument("--v1-variant", action="append", default=[], choices=VARIANTS, metavar="NAME",
                    help="answer as an older capture revision where they differ (capture-v1.md §8; repeatable): "
                         + ", ".join(VARIANTS) + " (default: the newest everywhere)")


def _add_limits(parser: argparse.ArgumentParser) -> None:
    limits = parser.add_argument_group("connection limits")
    limits.add_argument("--header-timeout", type=positive_float, default=10.0, metavar="S",
                        help="close a connection whose request head (request line and headers) is not complete S "
                             "seconds after it opened or after the request's first byte: 408 if part of it came, "
                             "closed silently if nothing did (default 10)")
    limits.add_argument("--max-header-bytes", type=positive_int, default=64 * 1024, metavar="N",
                        help="answer 431 and close when a request head passes N bytes (default 65536)")
    limits.add_argument("--keep-alive-timeout", type=positive_float, default=30.0, metavar="S",
                        help="close a keep-alive connection idle S seconds after its last answer (default 30)")
    limits.add_argument("--max-body-bytes-in-flight", type=positive_int, default=256, metavar="MIB",
                        help="MiB of request bodies all requests may hold together (declared Content-Length, or "
                             "the bytes received); past it a capture request is answered 503 with Retry-After: 1 "
                             "before its body is read (default 256; keep it above the 20 MiB body cap)")
    limits.add_argument("--graceful-timeout", type=non_negative_float, default=10.0, metavar="S",
                        help="on SIGTERM/SIGINT, finish the requests in flight for at most S seconds (whole "
                             "seconds, rounded up), then cancel them and exit (default 10)")


def _add_inspection(parser: argparse.ArgumentParser) -> None:
    inspection = parser.add_argument_group("inspection API (/_harness/)")
    inspection.add_argument("--inspect-token", default=os.environ.get(TOKEN_ENV) or None, metavar="TOKEN",
                            help=f"require Authorization: Bearer TOKEN (or X-Capture-Harness-Token: TOKEN) on every "
                                 f"/_harness/ route (default: ${TOKEN_ENV}; when binding beyond loopback without "
                                 f"one, a token is generated and printed once on stderr)")
    inspection.add_argument("--inspect-host", action="append", default=[], metavar="NAME",
                            help="a further Host name the /_harness/ API answers, beside localhost, 127.0.0.1, ::1 "
                                 "and the bound address (repeatable; other names are refused 403 against DNS "
                                 "rebinding)")


def _add_sdk(parser: argparse.ArgumentParser) -> None:
    sdk = parser.add_argument_group("what SDKs are told (remote config /array/<token>/config[.js], /flags, /decide)")
    sdk.add_argument("--flags", metavar="FILE",
                     help='JSON file of feature flags, the same for every person: {"flags": {"KEY": true | false | '
                          '"VARIANT"}, "payloads": {"KEY": JSON}} (default: no flags)')
    sdk.add_argument("--no-autocapture", action="store_true",
                     help="answer autocapture_opt_out: true, so posthog-js sends no autocapture events "
                          "(default: autocapture on)")
    sdk.add_argument("--session-recording", action="store_true",
                     help="turn session recording on in the remote config (default off; /s/ is not served yet "
                          "and /static/lazy-recorder.js is a no-op, so nothing is recorded)")


def _sdk_config(args: argparse.Namespace) -> SdkConfig | str:
    """The :class:`~harness.server.remote_config.SdkConfig` of the options, or why the flags file is refused."""
    from harness.server.remote_config import SdkConfig, load_flags

    try:
        flags = load_flags(args.flags) if args.flags else ()
    except ValueError as error:
        return str(error)
    return SdkConfig(flags=flags, autocapture=not args.no_autocapture, session_recording=args.session_recording)


def _inspect_token(args: argparse.Namespace) -> str | None:
    """The token /_harness/ requires: the one given, else a fresh one when binding beyond loopback."""
    if args.inspect_token or args.host in _LOCAL_HOSTS:
        return str(args.inspect_token) if args.inspect_token else None
    token = secrets.token_urlsafe(24)
    print(f"capture-harness serve: the /_harness/ inspection API needs this token (Authorization: Bearer TOKEN): "
          f"{token}", file=sys.stderr, flush=True)
    return token


def run(args: argparse.Namespace) -> int:
    from harness.server import CaptureApp, Faults, Store, runner  # uvicorn only when serving, not for --help
    from harness.server.store import CorruptStore
    from harness.server.connections import Limits

    try:
        faults = Faults(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, error_rate=args.error_rate,
                        error_statuses=tuple(args.error_status or (503,)), retry_after_s=args.retry_after,
                        stall_every_s=args.stall_every, stall_for_s=args.stall_for, drop_rate=args.drop_rate,
                        event_retry_rate=args.event_retry_rate, distinct_id_limit_per_s=args.distinct_id_limit)
        limits = Limits(header_timeout_s=args.header_timeout, header_bytes=args.max_header_bytes,
                        keep_alive_s=args.keep_alive_timeout, graceful_timeout_s=args.graceful_timeout)
    except ValueError as error:
        print(f"capture-harness serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.host not in _LOCAL_HOSTS:
        print(f"capture-harness serve: warning: binding {args.host} exposes the endpoint beyond this machine",
              file=sys.stderr)
    tls_files = _tls_files(args)
    if isinstance(tls_files, str):
        print(f"capture-harness serve: {tls_files}", file=sys.stderr)
        return EXIT_USAGE
    sdk = _sdk_config(args)
    if isinstance(sdk, str):
        print(f"capture-harness serve: {sdk}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = Store(args.db)
    except CorruptStore as error:  # exit 2 naming the file, and what to do about it
        print(f"capture-harness serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, sqlite3.Error) as error:
        print(f"capture-harness serve: cannot open the store {args.db}: {error}", file=sys.stderr)
        return EXIT_USAGE
    app = CaptureApp(store, faults, legacy_success=args.legacy_success, seed=args.seed,
                     body_bytes_limit=args.max_body_bytes_in_flight * MIB, inspect_token=_inspect_token(args),
                     inspect_hosts=[args.host, *args.inspect_host], sdk=sdk, v1_variants=args.v1_variant)
    if faults.active:
        print(f"fault injection: {faults.to_json()}", file=sys.stderr)
    try:
        runner.serve(app, args.host, args.port, cleanup=store.close, limits=limits, tls_files=tls_files)
    except OSError as error:
        hint = "; pick another --port, or --port 0 for a free one" if error.errno == errno.EADDRINUSE else ""
        print(f"capture-harness serve: cannot listen on {args.host}:{args.port}: {error.strerror or error}{hint}",
              file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _tls_files(args: argparse.Namespace) -> tuple[str, str] | None | str:
    """(certificate, key) for https://, None for http://, or why the pair cannot be loaded."""
    if args.ssl_certfile is None and args.ssl_keyfile is None:
        return None
    if args.ssl_certfile is None or args.ssl_keyfile is None:
        return "--ssl-certfile and --ssl-keyfile go together"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(args.ssl_certfile, args.ssl_keyfile)
    except (OSError, ssl.SSLError) as error:
        return f"cannot load --ssl-certfile {args.ssl_certfile} with --ssl-keyfile {args.ssl_keyfile}: {error}"
    return str(args.ssl_certfile), str(args.ssl_keyfile)
