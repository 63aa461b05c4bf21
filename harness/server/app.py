"""The reference capture endpoint as a plain ASGI application.

Routes (contract §1.1, §1.3): the six v0 analytics paths with and without a trailing slash (GET, POST,
OPTIONS; other methods 405), ``GET /`` answering ``capture``, ``/_readiness`` and ``/_liveness``, the
inspection API under ``/_harness/``, and an empty 404 for anything else.  CORS is permissive as
capture's is: the Origin and the requested headers are mirrored, credentials allowed, on every answer.

No framework: a capture request is routed by one dictionary lookup, so the server spends its time on
the contract, not on plumbing (the single-event budget is 70% of a no-op app's rate on the same stack).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import orjson

from harness.server import capture
from harness.server.faults import ERROR_TEXTS, FaultPlan, Faults
from harness.server.store import FILTERS, Store
from harness.spec.rules import WIRE_BODY_LIMIT
from harness.spec.timestamps import parse_date
from harness.wire import V0_PATHS

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

CAPTURE_ROUTES = frozenset(V0_PATHS)
ALLOWED_METHODS = "GET, POST, OPTIONS"
OK_BODY = b'{"status":"Ok"}'
LEGACY_OK_BODY = b'{"status":1}'
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
BODY_CHUNK_TIMEOUT_S = 30.0
"""A body upload that stalls this long between chunks is answered 408 (capture's ``BodyReadTimeout``)."""


class _BodyError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class _Disconnected(Exception):
    pass


class Stats:
    """Counters behind ``GET /_harness/stats``."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.rejections: Counter[str] = Counter()
        self.accepted_events = 0
        self.dropped_events = 0
        self.started = time.monotonic()

    def to_json(self, stored_events: int, faults: Faults) -> dict[str, Any]:
        by_path: dict[str, dict[str, int]] = {}
        for (path, status), count in sorted(self.requests.items()):
            by_path.setdefault(path, {})[str(status)] = count
        return {
            "requests": by_path, "accepted_events": self.accepted_events, "stored_events": stored_events,
            "dropped_events": self.dropped_events, "rejections": dict(self.rejections.most_common()),
            "faults": faults.to_json(), "uptime_s": round(time.monotonic() - self.started, 3),
        }


class GroupCommit:
    """Commits the records of requests that are ready together in one transaction.

    A request hands its records over and waits; the commit runs once the event loop has taken every
    request that was ready at the same moment, then all of them are answered.  Each answer still comes
    after its own events are committed, and a busy server pays for one commit per round instead of one
    per request.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._records: list[Any] = []
        self._waiters: list[asyncio.Future[None]] = []

    async def add(self, records: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        if not self._waiters:
            loop.call_soon(self._commit)
        self._records.extend(records)
        self._waiters.append(waiter)
        await waiter

    def _commit(self) -> None:
        records, waiters = self._records, self._waiters
        self._records, self._waiters = [], []
        try:
            self.store.add(records)
        except Exception as error:  # every waiting request answers the failure, none claims success
            for waiter in waiters:
                waiter.set_exception(error)
            return
        for waiter in waiters:
            waiter.set_result(None)


class CaptureApp:
    """The ASGI application.  ``store`` receives accepted events; ``faults`` can change at run time."""

    def __init__(self, store: Store, faults: Faults | None = None, *, legacy_success: bool = False,
                 seed: int | None = None, body_chunk_timeout_s: float = BODY_CHUNK_TIMEOUT_S) -> None:
        self.store = store
        self.commits = GroupCommit(store)
        self.plan = FaultPlan(faults or Faults(), seed)
        self.success_body = LEGACY_OK_BODY if legacy_success else OK_BODY
        self.body_chunk_timeout_s = body_chunk_timeout_s
        self.stats = Stats()
        self._seed = seed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        cors = _cors_headers(headers)
        try:
            if path in CAPTURE_ROUTES:
                status = await self._capture_route(scope, receive, send, headers, cors)
            else:
                status = await self._other_route(scope, receive, send, cors)
        except _Disconnected:
            status = 499  # the client went away; nothing to answer
        self.stats.requests[(path, status)] += 1

    # --- capture ------------------------------------------------------------------------------------

    async def _capture_route(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                             cors: Headers) -> int:
        method = scope["method"]
        if method == "OPTIONS":
            if "origin" in headers and "access-control-request-method" in headers:
                return await _respond(send, 200, b"", TEXT, cors + _preflight_headers(headers))
            return await _respond(send, 200, OK_BODY, JSON, cors)
        if method not in ("GET", "POST"):
            return await _respond(send, 405, b"", TEXT, cors + [(b"allow", ALLOWED_METHODS.encode())])
        try:
            body = await self._read_body(receive, headers)
        except _BodyError as error:
            self.stats.rejections[f"body: {error.status}"] += 1
            return await _respond(send, error.status, str(error).encode(), TEXT, cors)
        delay = self.plan.delay_s()
        if delay:
            await asyncio.sleep(delay)
        injected = self.plan.error_status()
        if injected is not None:
            self.stats.rejections[f"fault: {injected}"] += 1
            retry = [(b"retry-after", str(self.plan.faults.retry_after_s).encode())]
            return await _respond(send, injected, ERROR_TEXTS[injected].encode(), TEXT, cors + retry)
        query = scope["query_string"].decode("latin-1")
        outcome = capture.handle(scope["path"], query, headers, body, _client_ip(scope, headers),
                                 datetime.now(timezone.utc))
        if outcome.status != 200:
            self.stats.rejections[outcome.reason or str(outcome.status)] += 1
            return await _respond(send, outcome.status, outcome.text.encode(), TEXT, cors)
        if outcome.records:
            self.stats.accepted_events += len(outcome.records)
            if self.plan.drops():
                self.stats.dropped_events += len(outcome.records)
            else:
                await self.commits.add(outcome.records)
        if "beacon=1" in query and parse_qs(query).get("beacon") == ["1"]:
            return await _respond(send, 204, b"", None, cors)
        return await _respond(send, 200, self.success_body, JSON, cors)

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        """The whole body, refused with 413 past the wire cap (before reading it all when the length
        is announced) and with 408 when the upload stalls."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > WIRE_BODY_LIMIT:
            raise _BodyError(413, "maximum event size exceeded: request body over the 20 MiB limit")
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout(self.body_chunk_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise _BodyError(408, "client stopped sending data") from None
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > WIRE_BODY_LIMIT:
                raise _BodyError(413, "maximum event size exceeded: request body over the 20 MiB limit")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    # --- everything else ----------------------------------------------------------------------------

    async def _other_route(self, scope: Scope, receive: Receive, send: Send, cors: Headers) -> int:
        path, method = scope["path"], scope["method"]
        if path == "/" or path in ("/_readiness", "/_liveness"):
            if method != "GET":
                return await _respond(send, 405, b"", TEXT, cors + [(b"allow", b"GET")])
            return await _respond(send, 200, b"capture" if path == "/" else b"ok", TEXT, cors)
        handlers: dict[tuple[str, str], Callable[[Scope, Receive], Awaitable[tuple[int, Any]]]] = {
            ("/_harness/events", "GET"): self._events,
            ("/_harness/stats", "GET"): self._stats,
            ("/_harness/reset", "POST"): self._reset,
            ("/_harness/faults", "GET"): self._get_faults,
            ("/_harness/faults", "POST"): self._set_faults,
            ("/_harness/faults", "PUT"): self._set_faults,
            ("/_harness/faults", "DELETE"): self._clear_faults,
        }
        handler = handlers.get((path, method))
        if handler is None:
            allowed = [m for p, m in handlers if p == path]
            if allowed:
                return await _respond(send, 405, b"", TEXT, cors + [(b"allow", ", ".join(allowed).encode())])
            return await _respond(send, 404, b"", TEXT, cors)
        status, payload = await handler(scope, receive)
        return await _respond(send, status, orjson.dumps(payload), JSON, cors)

    async def _events(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        params = {key: values[-1] for key, values in parse_qs(scope["query_string"].decode()).items()}
        try:
            limit = min(int(params.pop("limit", "100")), 1000)
            after = int(params.pop("after", "0"))
            since = params.pop("since", None)
            since_ms = _since_ms(since) if since is not None else None
            found = self.store.events(after=after, limit=limit, since_ms=since_ms, **params)
        except ValueError as error:
            return 400, {"error": str(error), "filters": [*FILTERS, "since", "after", "limit"]}
        return 200, {"events": found, "next_after": found[-1]["id"] if len(found) == limit else None}

    async def _stats(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        return 200, self.stats.to_json(self.store.count(), self.plan.faults)

    async def _reset(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        self.store.reset()
        self.stats = Stats()
        return 200, {"status": "reset"}

    async def _get_faults(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        return 200, self.plan.faults.to_json()

    async def _set_faults(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        try:
            body = await self._read_body(receive, {})
            changes = orjson.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of fault settings")
            faults = Faults.from_json(changes, self.plan.faults)
        except (ValueError, TypeError, _BodyError) as error:
            return 400, {"error": str(error)}
        self.plan = FaultPlan(faults, self._seed)
        return 200, faults.to_json()

    async def _clear_faults(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        self.plan = FaultPlan(Faults(), self._seed)
        return 200, self.plan.faults.to_json()


def _since_ms(value: str) -> int:
    if value.lstrip("-").isdigit():
        return int(value)
    moment = parse_date(value)
    if moment is None:
        raise ValueError(f"since={value!r} is neither milliseconds since the epoch nor an RFC 3339 time")
    return int(moment.timestamp() * 1000)


def _client_ip(scope: Scope, headers: dict[str, str]) -> str:
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


def _cors_headers(headers: dict[str, str]) -> Headers:
    origin = headers.get("origin")
    if origin is None:
        return []
    return [(b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"), (b"vary", b"origin")]


def _preflight_headers(headers: dict[str, str]) -> Headers:
    answer = [(b"access-control-allow-methods", ALLOWED_METHODS.encode())]
    requested = headers.get("access-control-request-headers")
    if requested:
        answer.append((b"access-control-allow-headers", requested.encode("latin-1")))
    return answer


async def _respond(send: Send, status: int, body: bytes, content_type: bytes | None, extra: Headers) -> int:
    headers = list(extra)
    if status != 204:  # a 204 carries neither a body nor its length
        headers.append((b"content-length", str(len(body)).encode()))
        if content_type is not None:
            headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
