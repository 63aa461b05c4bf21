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

An https:// endpoint's certificate is verified with the context of :func:`harness.tls.ssl_context` (the
default: the system's CAs, or ``$SSL_CERT_FILE`` / ``$REQUESTS_CA_BUNDLE``); one that does not verify raises
:class:`TLSError`, which says so.  Extra ``headers`` (a gateway's key) go with every request, beside the
request's own (which win for the same name).
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import orjson

from harness import tls
from harness.checks import Reply
from harness.wire import WireRequest

_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class NoAnswerError(Exception):
    """The endpoint gave no HTTP answer (refused, reset, timed out); the message says which."""


class TLSError(NoAnswerError):
    """The endpoint's TLS certificate did not verify; the message says so and what to pass."""


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
        return self._exchange(request.method, self._prefix + request.target, request.headers, request.body)

    inspect_headers: Mapping[str, str] = MappingProxyType({})
    """Sent with :meth:`get_json` only (the ``/_harness/`` inspection token), never with capture requests."""

    def get_json(self, target: str) -> tuple[int, Any]:
        """GET ``target`` (an inspection route) with :attr:`inspect_headers` and parse the answer as JSON
        (None when it is not JSON)."""
        reply = self._exchange("GET", self._prefix + target, dict(self.inspect_headers), b"")
        try:
            return reply.status, orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            return reply.status, None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection, self._used = None, False

    # --- transport --------------------------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                context = self._context if self._context is not None else tls.ssl_context()
                self._connection = http.client.HTTPSConnection(self._netloc, timeout=self.timeout, context=context)
            else:
                self._connection = http.client.HTTPConnection(self._netloc, timeout=self.timeout)
            self._used = False
        return self._connection

    def _exchange(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if self._headers:
            own = {name.lower() for name in headers}
            headers = {**{k: v for k, v in self._headers.items() if k.lower() not in own}, **headers}
        for attempt in (1, 2):
            connection = self._connect()
            reused = self._used
            try:
                return self._once(connection, method, target, headers, body)
            except _STALE as error:
                self.close()
                if reused and attempt == 1:
                    continue  # the server dropped an idle keep-alive connection: not the request's fault
                raise NoAnswerError(f"{method} {target}: connection lost ({type(error).__name__}: {error})") from None
            except TimeoutError:
                self.close()
                raise NoAnswerError(f"{method} {target}: no answer within {self.timeout:g} s") from None
            except ssl.SSLCertVerificationError as error:
                self.close()
                raise TLSError(tls.verification_failed(self.base_url, error)) from None
            except (OSError, http.client.HTTPException) as error:
                self.close()
                raise NoAnswerError(f"{method} {target}: {type(error).__name__}: {error}") from None
        raise AssertionError("unreachable")

    def _once(self, connection: http.client.HTTPConnection, method: str, target: str, headers: dict[str, str],
              body: bytes) -> Reply:
        try:
            connection.request(method, target, body=body or None, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # the server may have answered early and closed (a 413 before reading a large body): read it
            if not self._used:
                answer = self._read(connection)
                self.close()
                return answer
            raise
        self._used = True
        answer = self._read(connection)
        return answer

    def _read(self, connection: http.client.HTTPConnection) -> Reply:
        response = connection.getresponse()
        data = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        if response.will_close:
            self.close()
        return Reply(response.status, data, headers)
