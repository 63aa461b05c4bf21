"""How every client of the harness reaches an endpoint: the TLS context and the extra headers.

One SSL context for every client (the Locust user, the contract suite's client, the load run's inspection
lookups): certificates are verified by default, against ``--ca-bundle FILE`` when given, else against the
file named by ``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE``, else the system's trusted CAs; ``--insecure``
turns verification off (the commands print a warning).  A verification failure is reported as such, with
the options that fix it (:func:`verification_failed`), never as a missing API or a traceback.

Extra headers (``-H 'Name: value'``, e.g. a gateway's key) are parsed here too (:func:`parse_header`), so
every command, the pytest plugin and the Locust options accept the same syntax.  This module imports only
the standard library: the Locust user calls it after gevent has patched ``ssl``, so its contexts are gevent's.
"""

from __future__ import annotations

import os
import re
import ssl
from pathlib import Path

BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
"""Environment variables naming a CA bundle, honoured in this order when no bundle is given."""

HINT = "pass --ca-bundle FILE or --insecure"
"""What fixes a certificate that does not verify, in every message saying so."""

INSECURE_WARNING = "warning: --insecure: TLS certificates are not verified; anyone on the path can read and alter traffic"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP field name (RFC 9110's token)."""


class BundleError(ValueError):
    """A CA bundle that cannot be read; the message names the file."""


def ssl_context(ca_bundle: Path | None = None, insecure: bool = False) -> ssl.SSLContext:
    """The client context: verifying against ``ca_bundle`` (None: ``$SSL_CERT_FILE``, ``$REQUESTS_CA_BUNDLE``,
    else the system's CAs), or not verifying at all when ``insecure``.  :class:`BundleError` for a bad bundle."""
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    bundle = ca_bundle if ca_bundle is not None else bundle_from_environment()
    if bundle is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(bundle))
    except (OSError, ssl.SSLError) as error:
        raise BundleError(f"cannot read the CA bundle {bundle}: {error.strerror or error}") from None


def bundle_from_environment() -> Path | None:
    """The CA bundle ``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE`` names, if any."""
    for name in BUNDLE_VARIABLES:
        if os.environ.get(name):
            return Path(os.environ[name])
    return None


def is_verification_error(error: BaseException | None) -> bool:
    """Whether ``error`` (or the reason it wraps, as urllib's ``URLError`` does) is a certificate failure."""
    reason = getattr(error, "reason", None)
    return isinstance(error, ssl.SSLCertVerificationError) or isinstance(reason, ssl.SSLCertVerificationError)


def verification_failed(url: str, error: BaseException, hint: str = HINT) -> str:
    """The message for a certificate that did not verify: the URL, OpenSSL's reason, and what to pass."""
    cause = getattr(error, "reason", None) if not isinstance(error, ssl.SSLError) else error
    reason = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause or error)
    return f"TLS certificate verification failed for {url}: {reason}; {hint}"


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` as ``(name, value)``; ValueError naming the text and an example when malformed."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _TOKEN.fullmatch(name) or "\n" in value or "\r" in value:
        raise ValueError(f"{text!r} is not a header: write it as 'Name: value', e.g. -H 'X-Gateway-Key: s3cret'")
    return name, value


def parse_headers(texts: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """Several ``'Name: value'`` texts as a dict (a repeated name: the last value)."""
    return dict(parse_header(text) for text in texts or ())
