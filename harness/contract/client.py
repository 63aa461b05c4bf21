"""One keep-alive HTTP connection to the endpoint under test, on the standard library's ``http.client``.

Why not ``requests`` or ``urllib3``: neither is a dependency of the project (they arrive with Locust,
and this suite must run without it), and the suite needs exactly what ``http.client`` gives: bytes out
as built by :func:`harness.wire.encode` (no header or body rewriting, no automatic decompression of the
answer, no redirects followed), status, headers and body back.

Two transport details matter for a contract test:

- a server that closed an idle keep-alive connection is not a finding: the request is sent again once
  on a fresh connection, as every HTTP client library does;
- a server may answer before reading the whole body (a 413 on a 20 MiB upload): the send then fails
  with a broken pipe, and the answer is still read.

Nothing a target sends can hold the harness for long or grow its memory: ``timeout`` is a deadline for the
whole exchange (connecting, sending, the status line, headers and body), not for each read (a watchdog shuts
the socket down when it passes), and at most :data:`harness.checks.MAX_ANSWER_BYTES` of a capture answer's
body is read (:data:`INSPECT_MAX_BYTES` of an inspection API page): a longer one raises
:class:`AnswerTooLargeError` and the connection is dropped.  Redirects are never followed.

An https:// endpoint's certificate is verified with the context of :func:`harness.tls.ssl_context` (the
default: the system's CAs, or ``$SSL_CERT_FILE`` / ``$REQUESTS_CA_BUNDLE``); one that does not verify raises
:class:`TLSError`, which says so.  Extra ``headers`` (a gateway's key) go with every request, beside the
request's own (which win for the same name).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import orjson

from harness import tls
from harness.checks import MAX_ANSWER_BYTES, Reply, Title
from harness.wire import WireRequest

_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


INSPECT_MAX_BYTES = 8 * 1024 * 1024
"""The most of one ``/_harness/`` inspection answer read: a page of up to 1,000 stored events with their JSON
text is larger than a capture answer (a few hundred KB to a few MB), and still bounded."""


class NoAnswerError(Exception):
    """The endpoint gave no usable HTTP answer (refused, reset, timed out, not HTTP, too large); the message
    says which, ``title`` names it as a finding and ``timed_out`` says whether the deadline passed."""

    title = Title.NO_ANSWER

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class TLSError(NoAnswerError):
    """The endpoint's TLS certificate did not verify; the message says so and what to pass."""


class NotHTTPError(NoAnswerError):
    """What came back is not HTTP (a bad status line, a header line too long, a broken chunk)."""


class AnswerTooLargeError(NoAnswerError):
    """An HTTP answer whose body is longer than the harness reads; ``status`` is the answer's."""

    title = Title.ANSWER_TOO_LARGE

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def inspection_refused(status: int, document: Any, token_given: bool, *, token_option: str) -> str | None:
    """Why the ``/_harness/`` API refused the caller (401: a token is needed or wrong; 403: refused), or None;
    ``token_option`` is how the asking command or plugin takes the token."""
    said = document.get("error") if isinstance(document, dict) and isinstance(document.get("error"), str) else ""
    said = f": {said[:200]!r}" if said else ""
    if status == 401 and token_given:
        return f"the /_harness/ inspection API refused the inspection token (401{said}): pass its own with {token_option}"
    if status == 401:
        return (f"the /_harness/ inspection API needs an inspection token (401{said}): pass it with {token_option} "
                "TOKEN (or $CAPTURE_HARNESS_INSPECT_TOKEN)")
    if status == 403:
        return f"the /_harness/ inspection API refused this client (403{said})"
    return None


class Client:
    """Sends :class:`~harness.wire.WireRequest`\\ s to ``base_url`` (a path prefix in it is kept), with the
    extra ``headers``, over TLS with ``context`` for https:// (None: :func:`harness.tls.ssl_context`'s default)."""

    def __init__(self, base_url: str, timeout: float = 30.0, *, context: ssl.SSLContext | None = None,
                 headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self._context = context
        self._headers = dict(headers or {})
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._used = False

    def send(self, request: WireRequest) -> Reply:
        """Send ``request`` as it is; :class:`NoAnswerError` when no HTTP answer comes."""
        return self._exchange(request.method, self._prefix + request.target, request.headers, request.body,
                              MAX_ANSWER_BYTES)

    inspect_headers: Mapping[str, str] = MappingProxyType({})
    """Sent with :meth:`get_json` only (the ``/_harness/`` inspection token), never with capture requests."""

    def get_json(self, target: str) -> tuple[int, Any]:
        """GET ``target`` (an inspection route) with :attr:`inspect_headers` and parse the answer as JSON
        (None when it is not JSON); at most :data:`INSPECT_MAX_BYTES` of it is read."""
        reply = self._exchange("GET", self._prefix + target, dict(self.inspect_headers), b"", INSPECT_MAX_BYTES)
        try:
            return reply.status, orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            return reply.status, None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection, self._used = None, False

    # --- transport --------------------------------------------------------------------------------------

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                context = self._context if self._context is not None else tls.ssl_context()
                self._connection = http.client.HTTPSConnection(self._netloc, timeout=timeout, context=context)
            else:
                self._connection = http.client.HTTPConnection(self._netloc, timeout=timeout)
            self._used = False
        connection = self._connection
        connection.timeout = timeout
        if connection.sock is None:
            connection.connect()
        else:
            connection.sock.settimeout(timeout)
        return connection

    def _exchange(self, method: str, target: str, headers: dict[str, str], body: bytes, limit: int) -> Reply:
        if self._headers:
            own = {name.lower() for name in headers}
            headers = {**{k: v for k, v in self._headers.items() if k.lower() not in own}, **headers}
        deadline = time.monotonic() + self.timeout
        for attempt in (1, 2):
            reused = self._used and self._connection is not None
            watchdog: _Watchdog | None = None
            try:
                connection = self._connect(max(deadline - time.monotonic(), 0.001))
                watchdog = _Watchdog(connection.sock, deadline)
                reply = self._once(connection, method, target, headers, body, limit)
                if watchdog.fired:  # the shutdown may read as the answer's end: a cut answer is no answer
                    raise TimeoutError
                return reply
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if reused and attempt == 1 and isinstance(error, _STALE) and not (watchdog and watchdog.fired):
                    continue  # the server dropped an idle keep-alive connection: not the request's fault
                raise self._no_answer(method, target, error, watchdog is not None and watchdog.fired) from None
            finally:
                if watchdog is not None:
                    watchdog.cancel()
        raise AssertionError("unreachable")

    def _no_answer(self, method: str, target: str, error: BaseException, expired: bool) -> NoAnswerError:
        """What went wrong, as the :class:`NoAnswerError` that says so."""
        if expired or isinstance(error, TimeoutError):
            return NoAnswerError(f"{method} {target}: no answer within {self.timeout:g} s", timed_out=True)
        if isinstance(error, _STALE):
            return NoAnswerError(f"{method} {target}: connection lost ({type(error).__name__}: {error})")
        if isinstance(error, ssl.SSLCertVerificationError):
            return TLSError(tls.verification_failed(self.base_url, error))
        if isinstance(error, http.client.HTTPException):
            return NotHTTPError(f"{method} {target}: the answer is not HTTP ({type(error).__name__}: {error!r:.200})")
        return NoAnswerError(f"{method} {target}: {type(error).__name__}: {error}")

    def _once(self, connection: http.client.HTTPConnection, method: str, target: str, headers: dict[str, str],
              body: bytes, limit: int) -> Reply:
        try:
            connection.request(method, target, body=body or None, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # the server may have answered early and closed (a 413 before reading a large body): read it
            if not self._used:
                answer = self._read(connection, method, target, limit)
                self.close()
                return answer
            raise
        self._used = True
        return self._read(connection, method, target, limit)

    def _read(self, connection: http.client.HTTPConnection, method: str, target: str, limit: int) -> Reply:
        response = connection.getresponse()
        data = response.read(limit + 1)  # never more than the cap (+1 to know there is more)
        headers = {name.lower(): value for name, value in response.getheaders()}
        if len(data) > limit:
            self.close()  # the rest is never read: the connection is dropped
            raise AnswerTooLargeError(f"{method} {target}: answered {response.status} with a body longer than "
                                      f"{limit:,} bytes (not read further; connection dropped)", response.status)
        if response.will_close:
            self.close()
        return Reply(response.status, data, headers)


class _Watchdog:
    """Shuts ``sock`` down at ``deadline`` (a ``time.monotonic()`` time), which ends any read or write blocked
    on it: the exchange's total deadline, whatever the target trickles."""

    def __init__(self, sock: socket.socket | None, deadline: float) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        if self._sock is not None:
            try:  # the plain socket's shutdown, also under TLS: the SSL object stays to the reading thread
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()
