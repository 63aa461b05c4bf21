"""The ASGI plumbing every route of the reference endpoint shares: the scope types, how an answer is sent,
the CORS headers capture adds, and the two ways a body read ends early.

Kept apart from :mod:`harness.server.app` (the routing) so that each family of routes (v0 capture, v1
capture, recordings, the SDK routes, the inspection API) can live in a module of its own and answer the
same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

ALLOWED_METHODS = "GET, POST, OPTIONS"
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
OK_BODY = b'{"status":"Ok"}'
STORE_FAILED_TEXT = b"transient error, please retry"
"""Capture's ``RetryableSinkError`` text (503): what a failing store answers, with ``Retry-After: 1``."""


class BodyError(Exception):
    """The body is refused before it is decoded: ``status`` and the text to answer."""

    def __init__(self, status: int, text: str, headers: Headers | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.headers: Headers = headers or []


class Disconnected(Exception):
    """The client went away while its body was being read."""


def client_ip(scope: Scope, headers: dict[str, str]) -> str:
    """The client address as capture reads it: ``X-Forwarded-For``'s first entry, ``X-Real-IP``, then
    the peer (axum-client-ip's ``InsecureClientIp``)."""
    forwarded = headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    real = headers.get("x-real-ip")
    if real:
        return real.strip()
    client = scope.get("client")
    return client[0] if client else "127.0.0.1"


def cors_headers(headers: dict[str, str]) -> Headers:
    """Capture's permissive CORS: the Origin mirrored, credentials allowed (none without an Origin)."""
    origin = headers.get("origin")
    if origin is None:
        return []
    return [(b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"), (b"vary", b"origin")]


def preflight_headers(headers: dict[str, str]) -> Headers:
    """What a preflight's answer adds: the methods, and the requested headers mirrored."""
    answer = [(b"access-control-allow-methods", ALLOWED_METHODS.encode())]
    requested = headers.get("access-control-request-headers")
    if requested:
        answer.append((b"access-control-allow-headers", requested.encode("latin-1")))
    return answer


async def respond(send: Send, status: int, body: bytes, content_type: bytes | None, extra: Headers) -> int:
    """Send one whole answer; returns ``status`` for the stats."""
    headers = list(extra)
    if status != 204:  # a 204 carries neither a body nor its length
        headers.append((b"content-length", str(len(body)).encode()))
        if content_type is not None:
            headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def answer_method(method: str, send: Send, headers: dict[str, str], cors: Headers) -> int | None:
    """What a v0-style route (the analytics paths, ``/s/``) answers before reading a body: a preflight, a
    plain ``OPTIONS`` (``{"status":"Ok"}``), or 405 for a method other than GET and POST; None to go on."""
    if method == "OPTIONS":
        if "origin" in headers and "access-control-request-method" in headers:
            return await respond(send, 200, b"", TEXT, cors + preflight_headers(headers))
        return await respond(send, 200, OK_BODY, JSON, cors)
    if method not in ("GET", "POST"):
        return await respond(send, 405, b"", TEXT, cors + [(b"allow", ALLOWED_METHODS.encode())])
    return None
