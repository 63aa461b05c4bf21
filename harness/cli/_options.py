"""What several commands share, declared once: the exit codes, the number types of options, and the target
and transport options of the two commands that send traffic to an endpoint (``contract`` and ``load``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness.spec.body import DEFAULT_TOKEN
from harness.tls import parse_header

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
"""0 success; 1 the checked thing failed; 2 usage or input errors (argparse's own exit status for bad options)."""


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """``--url``, ``--api-key`` and ``--allow-production``, with the same meaning wherever traffic is sent."""
    target = parser.add_argument_group("target")
    target.add_argument("--url", help="capture endpoint base URL (default: start the reference endpoint for the run)")
    target.add_argument("--api-key", default=DEFAULT_TOKEN,
                        help="project API key (token) the payloads carry (default: a placeholder phc_ token); "
                             "never printed in full")
    target.add_argument("--allow-production", action="store_true",
                        help="allow PostHog Cloud hosts (*.posthog.com) as the target")
    target.add_argument("--inspect-token", default=os.environ.get("CAPTURE_HARNESS_INSPECT_TOKEN") or None,
                        metavar="TOKEN",
                        help="token of the target's /_harness/ inspection API (serve --inspect-token), sent as "
                             "Authorization: Bearer TOKEN on inspection requests only (default: "
                             "$CAPTURE_HARNESS_INSPECT_TOKEN; the reference endpoint started for the run gets a "
                             "fresh one)")


def add_transport_options(parser: argparse.ArgumentParser) -> None:
    """``--ca-bundle``, ``--insecure`` and ``-H/--header``: how the traffic reaches the target (:mod:`harness.tls`)."""
    transport = parser.add_argument_group("TLS and headers")
    transport.add_argument("--ca-bundle", type=ca_bundle_file, metavar="FILE",
                           help="PEM file of the CAs to trust for https:// targets (default: $SSL_CERT_FILE, "
                                "$REQUESTS_CA_BUNDLE, else the system's); certificates are always verified "
                                "unless --insecure")
    transport.add_argument("--insecure", action="store_true",
                           help="do not verify TLS certificates (prints a warning)")
    transport.add_argument("-H", "--header", action="append", type=header, metavar="'NAME: VALUE'",
                           help="extra header sent with every request, capture and inspection alike (repeatable), "
                                "e.g. -H 'X-Gateway-Key: s3cret'")


def ca_bundle_file(text: str) -> Path:
    """An existing CA bundle file."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file (a PEM bundle of CA certificates)")
    return path


def header(text: str) -> str:
    """A ``'Name: value'`` header, checked and kept as written."""
    try:
        parse_header(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 (a free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number: the range is 0-65535 (0 picks a free one)")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, got {text}")
    return value
