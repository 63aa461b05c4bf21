"""How the Locust users reach the endpoint: TLS verification and extra headers, without importing Locust.

``capture-harness load`` passes its ``--ca-bundle``, ``--insecure`` and ``-H`` to the Locust subprocess in its
environment (:func:`locust_environment`: ``CAPTURE_HARNESS_CA_BUNDLE``, ``CAPTURE_HARNESS_INSECURE``, and
``CAPTURE_HARNESS_HEADER``, one header per line), never on a command line, where a gateway's key would show in
the process list.  Plain ``locust -f locustfiles/X.py`` takes the same as ``--capture-ca-bundle``,
``--capture-insecure`` and ``--capture-header`` (:func:`add_locust_options`), which win over the environment.
Certificates are verified unless insecure (Locust's ``FastHttpUser`` default is not to verify).
"""

from __future__ import annotations

import errno
import functools
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import tls
from harness.checks import Title
from harness.load.options import LoadOptions

HEADER, CA_BUNDLE, INSECURE = "CAPTURE_HARNESS_HEADER", "CAPTURE_HARNESS_CA_BUNDLE", "CAPTURE_HARNESS_INSECURE"


def locust_environment(options: LoadOptions) -> dict[str, str]:
    """The variables that carry the run's TLS settings and headers to Locust (each always set, so a value
    inherited from the caller's environment never overrides the run's own)."""
    return {HEADER: "\n".join(options.headers), CA_BUNDLE: str(options.ca_bundle or ""),
            INSECURE: "1" if options.insecure else ""}


def add_locust_options(group: Any) -> None:
    """The Locust command line's ``--capture-header``, ``--capture-ca-bundle`` and ``--capture-insecure``."""
    group.add_argument("--capture-header", action="append", default=None, metavar="'NAME: VALUE'",
                       help=f"extra header sent with every request (repeatable; default: ${HEADER}, one per line)")
    group.add_argument("--capture-ca-bundle", default=None, metavar="FILE",
                       help=f"CAs to trust for https:// (default: ${CA_BUNDLE}, $SSL_CERT_FILE, $REQUESTS_CA_BUNDLE, "
                            "the system's)")
    group.add_argument("--capture-insecure", action="store_true", default=False,
                       help=f"do not verify TLS certificates (also ${INSECURE}=1)")


@dataclass(frozen=True)
class UserTransport:
    """What a :class:`harness.load.user.CaptureUser` sets before ``FastHttpUser`` builds its client."""

    insecure: bool
    ssl_context_factory: Callable[..., ssl.SSLContext]
    headers: dict[str, str]


def user_transport(parsed_options: Any) -> UserTransport:
    """The transport of Locust's parsed options (falling back on the environment); ValueError when malformed."""
    headers = getattr(parsed_options, "capture_header", None)
    if headers is None:
        headers = [line for line in os.environ.get(HEADER, "").splitlines() if line.strip()]
    bundle = getattr(parsed_options, "capture_ca_bundle", None) or os.environ.get(CA_BUNDLE) or None
    insecure = bool(getattr(parsed_options, "capture_insecure", False)) \
        or os.environ.get(INSECURE, "").strip().lower() in ("1", "true", "yes", "on")
    return _transport(tuple(headers), bundle, insecure)


@functools.lru_cache(maxsize=8)
def _transport(headers: tuple[str, ...], bundle: str | None, insecure: bool) -> UserTransport:
    ca_bundle = Path(bundle) if bundle else None
    tls.ssl_context(ca_bundle, insecure)  # a bundle that cannot be read fails here, once, not per connection

    def factory(cafile: str | None = None, **kwargs: Any) -> ssl.SSLContext:
        # geventhttpclient offers its own CA file (certifi's): the run's bundle, or the system's, is used instead
        return tls.ssl_context(ca_bundle, insecure)
    return UserTransport(insecure, factory, tls.parse_headers(headers))


NO_ANSWER_TITLES = (Title.CONNECTION_REFUSED, Title.CONNECTION_RESET, Title.TIMED_OUT, Title.CONNECTION_FAILED,
                    Title.TLS_FAILED, Title.UNANSWERED_AT_END)
"""The titles of a request that got no HTTP answer, one per way it can go wrong, so the summary counts each."""

_BY_ERRNO = {errno.ECONNREFUSED: Title.CONNECTION_REFUSED, errno.ECONNRESET: Title.CONNECTION_RESET,
             errno.EPIPE: Title.CONNECTION_RESET, errno.ETIMEDOUT: Title.TIMED_OUT}


def failure(error: BaseException | None, base_url: str) -> tuple[Title, str]:
    """The title and detail of a request that got no answer: refused, reset, timed out, a certificate that
    did not verify, or another network failure."""
    if tls.is_verification_error(error) and error is not None:
        return Title.TLS_FAILED, tls.verification_failed(base_url, error)
    detail = str(error) or type(error).__name__
    if isinstance(error, TimeoutError) or type(error).__name__ == "Timeout":  # gevent's Timeout, not imported here
        return Title.TIMED_OUT, detail
    if isinstance(error, OSError) and error.errno in _BY_ERRNO:
        return _BY_ERRNO[error.errno], detail
    return Title.CONNECTION_FAILED, detail
