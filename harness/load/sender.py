"""How a load user sends a request: geventhttpclient's ``HTTPClient`` on one keep-alive connection, the
answer read in full (at most :data:`harness.checks.MAX_ANSWER_BYTES` of it), nothing else.

Why not Locust's ``FastHttpSession``, which ``FastHttpUser`` gives every user: it wraps the same
``HTTPClient`` in geventhttpclient's ``UserAgent`` (a cookie jar consulted on every request and answer, the
URL parsed again each time, redirects, retries, two response wrappers) and doubles the CPU a request costs:
about 90 us against 45 us here, measured in one process posting the same body to the same no-op target.
At the rates the load job aims for, that difference is the load generator's ceiling.  A capture endpoint
sets no cookie a client must send back, and a load request never follows a redirect (a 3xx is a finding),
so none of it is needed.  The user still reports every request to Locust's ``request`` event
(:class:`harness.load.user.CaptureUser`), so Locust's stats, web UI, CSV files and distribution see each
one as before; ``self.client`` stays available to a locustfile's own tasks.

The response time is measured up to the last byte of the answer read, as Locust measures a request that is
not streamed.  ``Accept-Encoding: gzip, deflate`` is sent unless the request names its own, and those two
codings are undone here (capped at the same size after decoding: a small answer cannot inflate to a large one).
"""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from gevent import Timeout
from geventhttpclient.client import HTTPClient
from geventhttpclient.response import HTTPParseError

from harness.checks import MAX_ANSWER_BYTES
from harness.wire import WireRequest

NETWORK_ERRORS = (OSError, Timeout, HTTPParseError, zlib.error)
"""What a request can meet on the way that is the target's or the network's doing, not the harness's:
refused, reset, timed out, TLS, an answer that is not HTTP, a body that does not inflate.  (``OSError`` covers
``ConnectionError``, ``socket.error`` and ``ssl.SSLError``; geventhttpclient's ``HTTPConnectionClosed`` is an
``HTTPParseError``.)"""

ACCEPT_ENCODING = "gzip, deflate"
"""The codings of an answer this module decodes, offered unless a request sets its own Accept-Encoding."""


class HeaderLookup(Protocol):
    """An answer's headers, looked up by name in any case (geventhttpclient's response, or an empty dict)."""

    def get(self, key: str, default: None = None) -> Any: ...


@dataclass(slots=True)
class Answer:
    """What came back for one request."""

    status: int
    """The HTTP status; 0 when no answer arrived."""
    body: bytes | None
    """The body, gzip or deflate undone; None when there is none to check: longer than the cap, or ``error``."""
    headers: HeaderLookup
    """The answer's headers, looked up by lower-case name (empty when no answer arrived)."""
    error: BaseException | None
    """Why no whole answer arrived: before the status line (``status`` 0), or while the body was read."""
    elapsed_ms: float
    length: int
    """Bytes of the body as they came over the wire (as far as they were read)."""

    @property
    def too_large(self) -> bool:
        return self.body is None and self.error is None and self.status != 0


class Sender:
    """One user's connection to the target at ``base_url`` (scheme, host, port and an optional path prefix
    that every request target is appended to; user and password in the URL become a Basic authorization)."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *, ssl_context_factory: Callable[..., Any],
                 insecure: bool, connection_timeout: float, network_timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r}: a load target is an http:// or https:// URL with a host")
        defaults = {"Accept-Encoding": ACCEPT_ENCODING}
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            defaults["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        self._prefix = parts.path.rstrip("/")
        self._client = HTTPClient(
            parts.hostname, parts.port, headers={**defaults, **headers}, ssl=parts.scheme == "https",
            ssl_context_factory=ssl_context_factory, insecure=insecure, concurrency=1,
            connection_timeout=connection_timeout, network_timeout=network_timeout)

    def send(self, request: WireRequest) -> Answer:
        """Send ``request`` and read its answer; network failures come back in :attr:`Answer.error`."""
        started = time.perf_counter()
        try:
            response = self._client.request(request.method, self._prefix + request.target, body=request.body,
                                            headers=request.headers)
        except NETWORK_ERRORS as error:
            return Answer(0, None, {}, error, (time.perf_counter() - started) * 1000, 0)
        status, raw = response.status_code, b""
        try:
            raw = response.read(MAX_ANSWER_BYTES + 1)
            body = _decoded(raw, response.get("content-encoding"))
        except NETWORK_ERRORS as error:  # the body broke off, or does not inflate: no whole answer
            return Answer(status, None, response, error, (time.perf_counter() - started) * 1000, len(raw))
        finally:
            response.release()  # the connection is closed rather than reused when the body was not read to its end
        return Answer(status, body, response, None, (time.perf_counter() - started) * 1000, len(raw))

    def close(self) -> None:
        self._client.close()


def _decoded(raw: bytes, encoding: Any) -> bytes | None:
    """``raw`` with gzip or deflate undone; None when it, or what it inflates to, is longer than the cap."""
    if len(raw) > MAX_ANSWER_BYTES:
        return None
    if not raw or not isinstance(encoding, str) or encoding.lower() not in ("gzip", "deflate"):
        return raw
    inflate = zlib.decompressobj(31 if encoding.lower() == "gzip" else zlib.MAX_WBITS)
    body = inflate.decompress(raw, MAX_ANSWER_BYTES + 1)
    return None if len(body) > MAX_ANSWER_BYTES or inflate.unconsumed_tail else body
